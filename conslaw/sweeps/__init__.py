"""Sweeps of the certificate over families of models."""

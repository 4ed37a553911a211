import pytest

from conslaw.profiles import PROFILES, SETTINGS, active_profile, settings


def test_profiles_cover_every_chapter():
    for chapter, table in SETTINGS.items():
        assert set(table) == set(PROFILES), chapter
        keys = {frozenset(v) for v in table.values()}
        assert len(keys) == 1, f"{chapter}: profiles disagree on setting names"


def test_settings_resolve_and_override():
    s = settings("feedforward", "quick", hidden=None, samples=10)
    assert s.hidden == SETTINGS["feedforward"]["quick"]["hidden"]
    assert s.samples == 10 and s.profile == "quick" and s.device == "auto"
    assert s.line().startswith("settings: chapter='feedforward'")


def test_unknown_setting_and_profile_are_rejected():
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['colour'\]"):
        settings("feedforward", "quick", colour="red")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        settings("feedforward", "huge")


def test_active_profile_reads_the_environment(monkeypatch):
    monkeypatch.delenv("CONSLAW_PROFILE", raising=False)
    assert active_profile() == "quick"
    monkeypatch.setenv("CONSLAW_PROFILE", "gpu")
    assert active_profile() == "gpu"
    monkeypatch.setenv("CONSLAW_PROFILE", "fast")
    with pytest.raises(ValueError, match="CONSLAW_PROFILE"):
        active_profile()

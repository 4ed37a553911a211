import json
import subprocess
import sys

import pytest

from conslaw.cli import main


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "conslaw.cli", *args], capture_output=True, text=True
    )


def test_certify_ffn_json(capsys):
    assert (
        main(["certify", "ffn", "--activation", "relu", "--widths", "3,4,2", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["parameters"] == 26 and out["predicted"] == 4
    assert out["certified"] == 4 and out["complete"] is True
    assert out["gap"] > 1e6 and out["seconds"] > 0


def test_certify_glu_summary(capsys):
    assert main(["certify", "glu", "--activation", "silu", "--widths", "3,4,2"]) == 0
    out = capsys.readouterr().out
    assert "SwiGLU 3-4-2" in out and "complete" in out


def test_no_bias_and_seed(capsys):
    main(
        [
            "certify",
            "ffn",
            "--activation",
            "linear",
            "--widths",
            "4,3,4",
            "--no-bias",
            "--seed",
            "3",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert out["parameters"] == 24 and out["certified"] == 6 and out["seed"] == 3


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["ffn", "--activation", "tanh", "--widths", "3,4,2"],
            "invalid choice: 'tanh' (choose from 'linear', 'relu'",
        ),
        (
            ["ffn", "--activation", "relu", "--widths", "3,x"],
            "expected comma-separated positive integers",
        ),
        (
            ["ffn", "--activation", "relu", "--widths", "3,0,2"],
            "expected comma-separated positive integers",
        ),
        (
            ["ffn", "--activation", "relu", "--widths", "3"],
            "expected at least two widths",
        ),
        (["glu", "--activation", "silu", "--widths", "3,4,4,2"], "expected 3 widths"),
        (["glu", "--activation", "gelu-tanh", "--widths", "3,4,2"], "invalid choice"),
        (
            ["ffn", "--activation", "relu", "--widths", "3,4,2", "--seed", "-1"],
            "non-negative integer seed",
        ),
        (["mlp"], "invalid choice: 'mlp'"),
    ],
)
def test_bad_values_exit_2_with_one_line(args, needle):
    result = run_cli("certify", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]


def test_run_rejects_unknown_chapter_and_parameter(root):
    result = run_cli("run", "nonexistent", "--root", str(root))
    assert result.returncode == 2 and "expected one of" in result.stderr
    result = run_cli("run", "feedforward", "-p", "colour", "red", "--root", str(root))
    assert result.returncode == 2
    assert "no parameter 'colour'" in result.stderr
    assert "profile" in result.stderr
    result = run_cli("run", "feedforward", "-p", "profile", "huge", "--root", str(root))
    assert result.returncode == 2 and "unknown profile 'huge'" in result.stderr

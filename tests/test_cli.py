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


def test_bare_command_prints_usage_and_commands():
    result = run_cli()
    assert result.returncode == 2
    assert result.stderr.startswith("usage: conslaw")
    for command in ("certify", "run", "notebooks"):
        assert command in result.stderr


def test_certify_help_documents_exit_status():
    result = run_cli("certify", "ffn", "--help")
    assert result.returncode == 0
    assert "DESIGN" not in result.stdout
    text = " ".join(result.stdout.split())
    assert "Exit status: 0 when the certificate ran" in text
    assert "extra laws, inconclusive" in text and "2 for bad input" in text


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["ffn", "--activation", "relu", "--widths", "-3,4,2"],
            "conslaw certify ffn: error: argument --widths: expected comma-separated "
            "positive integers such as 3,4,2, got '-3,4,2'",
        ),
        (
            ["attention", "--d", "-3"],
            "conslaw certify attention: error: argument --d: expected a positive",
        ),
        (
            ["attention", "--pe", "rope", "--dk", "3"],
            "conslaw certify attention: error: --pe rope rotates pairs",
        ),
        (
            ["moe", "--gate", "softmax", "--experts", "2", "--expert", "relu"]
            + ["--widths", "3,2"],
            "conslaw certify moe: error: --widths takes three widths",
        ),
        (
            ["ffn", "--activation", "gelu", "--widths", "200,300,100"]
            + ["--max-memory-gb", "100"],
            "conslaw certify ffn: error: FFN 200-300-100, gelu has D = 90,400 "
            "parameters: its certificate needs about 327 GB",
        ),
    ],
)
def test_errors_name_the_subcommand(args, needle):
    result = run_cli("certify", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(needle)


def test_memory_guard_names_the_fix(capsys):
    args = ["certify", "ffn", "--activation", "relu", "--widths", "3,4,2"]
    assert main([*args, "--max-memory-gb", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "more than the limit of 0.001 GB given" in err
    assert "certify smaller widths, or pass --max-memory-gb GB" in err


def test_certificate_memory_grows_like_d_squared():
    from conslaw import FFN
    from conslaw.certificate import certificate_memory, check_certificate_memory
    from conslaw.certificate.memory import FIELD_FACTOR, FIXED_BYTES

    small, large = FFN([10, 20, 10], "gelu"), FFN([20, 40, 20], "gelu")
    for model in (small, large):
        D = model.num_parameters
        assert certificate_memory(model) == int(FIELD_FACTOR * 8 * D * D + FIXED_BYTES)
    # a ReLU network adds the output weights over its pool of region inputs
    assert certificate_memory(FFN([10, 20, 10], "relu")) > certificate_memory(small)
    assert check_certificate_memory(small, limit_gb=10) == certificate_memory(small)
    with pytest.raises(MemoryError, match=r"D = 1,660 parameters.*pass a larger"):
        check_certificate_memory(large, limit_gb=0.01)

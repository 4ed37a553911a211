import pytest

from conslaw.profiles import (
    PROFILES,
    SETTINGS,
    active_profile,
    check_profile,
    check_setting,
    settings,
)


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


@pytest.mark.parametrize(
    "chapter, overrides, needle",
    [
        (
            "feedforward",
            {"seeds": "two"},
            "'seeds' expects a positive integer, got 'two'",
        ),
        ("feedforward", {"seeds": 2.5}, "'seeds' expects a positive integer, got 2.5"),
        ("feedforward", {"seeds": 0}, "'seeds' expects a positive integer, got 0"),
        ("feedforward", {"seeds": True}, "positive integer, got True (bool)"),
        ("feedforward", {"hidden": -3}, "'hidden' expects a positive integer"),
        ("feedforward", {"device": "tpu"}, "one of auto, cpu, cuda or cuda:N"),
        ("feedforward", {"rtol": -1}, "'rtol' expects a positive number, got -1"),
        ("feedforward", {"flow_time": float("inf")}, "positive finite number"),
        ("feedforward", {"samples": 10**8}, "an integer from 1 to 1797 (the digits"),
        ("feedforward", {"seed": -1}, "'seed' expects a non-negative integer"),
        ("dynamics", {"lrs": "[0.05, 0.1]"}, "'lrs' expects a non-empty list"),
        ("dynamics", {"lrs": []}, "'lrs' expects a non-empty list"),
        ("dynamics", {"betas": [0.5, 1.0]}, "each a number in [0, 1)"),
        ("dynamics", {"weight_decay": -0.1}, "a non-negative number"),
        ("moe", {"sizes": [[3, 2, 2, 0, 2]]}, "each a positive integer"),
        ("moe", {"gate_biases": [1]}, "each True or False"),
        ("discovery", {"pairs": "some"}, "one of halves, all"),
        ("protocol", {"dtype": "float16"}, "one of float64, float32"),
        ("protocol", {"vit_lrs": "0.1,x"}, "a list of numbers or a string 'a,b,c'"),
        ("protocol", {"data_dir": 3}, "a folder"),
    ],
)
def test_bad_values_are_one_line_naming_chapter_and_setting(chapter, overrides, needle):
    with pytest.raises(ValueError) as info:
        settings(chapter, "quick", **overrides)
    message = str(info.value)
    assert needle in message and f"chapter {chapter!r}" in message
    assert "\n" not in message and "or None for the profile's value" in message


def test_values_are_converted_to_the_settings_types():
    s = settings("feedforward", "quick", seeds=2.0, flow_time=3, device="cuda:1")
    assert s.seeds == 2 and type(s.seeds) is int
    assert s.flow_time == 3.0 and type(s.flow_time) is float
    assert s.device == "cuda:1"
    assert settings("dynamics", "quick", lrs=(0.1, 0.05)).lrs == [0.1, 0.05]
    assert settings("protocol", "quick", vit_lrs="0.1,0.2").vit_lrs == [0.1, 0.2]
    assert settings("attention", "gpu", threads=2).threads == 2
    assert settings("protocol", "paper", data_dir="/data").data_dir == "/data"


def test_every_profile_value_passes_its_own_check():
    for chapter, table in SETTINGS.items():
        for profile, values in table.items():
            for name, value in values.items():
                if value is not None:
                    assert check_setting(chapter, profile, name, value) == value


def test_profile_errors_fit_where_they_come_from(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown profile 'x'.*; pass -p profile"):
        check_profile("x", hint="pass -p profile NAME")
    monkeypatch.setenv("CONSLAW_PROFILE", "bogus")
    with pytest.raises(ValueError) as info:
        active_profile()
    assert str(info.value) == (
        "CONSLAW_PROFILE='bogus' names no profile: expected one of quick, gpu, paper; "
        "set CONSLAW_PROFILE to one of quick, gpu, paper (or unset it)"
    )


def test_the_build_stops_in_one_line_on_a_bad_profile(monkeypatch, capsys):
    from types import SimpleNamespace

    from sphinx.errors import ExtensionError

    from conslaw.book.sphinx_ext import build_profile, check_build_profile

    app = SimpleNamespace(config=SimpleNamespace(conslaw_profile=None))
    monkeypatch.setenv("CONSLAW_PROFILE", "gpu")
    assert build_profile(app) == "gpu"
    monkeypatch.setenv("CONSLAW_PROFILE", "bogus")
    with pytest.raises(ExtensionError, match="set CONSLAW_PROFILE to one of"):
        build_profile(app)
    with pytest.raises(SystemExit) as info:
        check_build_profile(app, app.config)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("conslaw: error: CONSLAW_PROFILE='bogus' names no profile")
    assert len(err.strip().splitlines()) == 1
    app.config.conslaw_profile = "huge"
    with pytest.raises(ExtensionError, match="conslaw_profile in _config.yml"):
        build_profile(app)

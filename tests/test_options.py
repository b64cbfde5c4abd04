"""On/off settings: a switch given alone turns on, `false` undoes a preset's or config.py's True."""
import types

import pytest

import config
from sggan.errors import UserError
from sggan.app.options import OPTIONS
from tests.helpers import make_cfg

SWITCHES = [name for name, option in OPTIONS.items() if option.flag]


def test_every_switch_can_be_set_both_ways_from_the_command_line():
    assert {"identity_init", "no_sp", "fresh", "deterministic", "skip_missing", "save_single"} <= set(SWITCHES)
    for name in SWITCHES:
        mode = ["--mode", (OPTIONS[name].modes or ("train",))[0]]  # in a mode that reads it
        assert make_cfg(*mode, f"--{name}")[name] is True
        assert make_cfg(*mode, f"--{name}", "true")[name] is True
        assert make_cfg(*mode, f"--{name}", "false")[name] is False
        assert make_cfg(*mode, f"--{name}=no")[name] is False


def test_a_presets_switch_can_be_undone():
    assert make_cfg("--demo")["identity_init"] is True
    assert make_cfg("--demo", "--identity_init", "false")["identity_init"] is False
    settings = dict(config.SETTINGS, no_sp=True)
    module = types.SimpleNamespace(SETTINGS=settings, PRESETS=config.PRESETS, OPER_FLAG=0, OPER_NAME="x")
    assert make_cfg(module=module)["no_sp"] is True
    assert make_cfg("--no_sp", "off", module=module)["no_sp"] is False


def test_a_switch_refuses_other_words():
    with pytest.raises(UserError, match="--fresh expects true or false, got 'maybe'"):
        make_cfg("--fresh", "maybe")


def test_a_mode_of_the_other_model_is_refused_naming_its_owner():
    with pytest.raises(UserError, match="--mode sample is not a mode of sggan .* belongs to --model vacgan"):
        make_cfg("--mode", "sample")
    with pytest.raises(UserError, match="--mode test is not a mode of vacgan"):
        make_cfg("--model", "vacgan", "--mode", "test")

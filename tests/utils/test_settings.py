"""check_settings: the one check of a bundle's settings before anything is built."""

from __future__ import annotations

import pytest

from monai_genmed.utils import SettingRule, check_setting, check_settings


@pytest.mark.parametrize(
    "rule, good, bad",
    [
        ("number > 0", [1e-4, 3, 0.5], [0, -1, float("nan"), "1e-3", True, None, [1]]),
        ("number >= 0", [0, 0.0, 10], [-1e-9, False]),
        ("int >= 1", [1, 40], [0, 2.5, True, "3"]),
        ("number in (0, 1]", [1, 0.3], [0, 1.01]),
        ("number in [0, 1)", [0, 0.99], [1, -0.1]),
        ("optional int >= 1", [None, 3], [0]),
        ("ints >= 1", [[4, 8], (16,)], [[], [4, 0], [2.5], "48", 8]),
        ("optional ints >= 1", [None, [24, 24]], [[0, 24]]),
        ("bool", [True, False], ["false", 0, None]),
        (["axial", "sagittal"], ["axial"], ["coronal", None, 1]),
        ([0, 1], [0, 1], [True, 2]),
    ],
)
def test_rules_accept_and_refuse(rule, good, bad):
    parsed = SettingRule(rule)
    assert all(parsed.accepts(v) for v in good), [v for v in good if not parsed.accepts(v)]
    assert not any(parsed.accepts(v) for v in bad), [v for v in bad if parsed.accepts(v)]


def test_every_bad_setting_is_named_with_its_rule_and_the_flag():
    with pytest.raises(ValueError) as info:
        check_settings(
            {"learning_rate": (0, "number > 0"), "lambda_cycle": (10.0, "number > 0")},
            {"slicing": ("coronal", ["axial", "sagittal"]), "refinement": ("false", "bool")},
            context="training",
        )
    message = str(info.value)
    assert message.startswith("3 setting(s) would give a useless or failing training")
    assert "learning_rate=0 (int) must be a number > 0; pass --learning_rate" in message
    assert "slicing='coronal' (str) must be one of 'axial', 'sagittal'" in message
    assert "--refinement False" in message  # the capitalised spelling Fire turns into a bool
    assert "lambda_cycle" not in message  # a good setting is not listed


def test_good_settings_pass_and_come_back():
    assert check_settings({"epochs": (3, "int >= 1"), "crop": (None, "optional ints >= 1")}) == {
        "epochs": 3,
        "crop": None,
    }
    assert check_setting("epochs", 3, "int >= 1") is None


@pytest.mark.parametrize("rule", ["numbr > 0", "number => 0", "bool > 1", []])
def test_a_rule_that_cannot_be_read_is_an_error(rule):
    with pytest.raises(ValueError, match="rule"):
        SettingRule(rule)


def test_an_entry_that_is_not_value_and_rule_is_an_error():
    with pytest.raises(ValueError, match=r"setting rule of 'epochs' must be \[value, rule\]"):
        check_settings({"epochs": 3})

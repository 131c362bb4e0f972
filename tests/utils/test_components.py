from __future__ import annotations

import pytest
from monai.bundle import ConfigParser

from monai_genmed.utils import enabled


def test_enabled_drops_switched_off_members_and_keeps_the_order():
    assert enabled(["a", None, "b", None]) == ["a", "b"]
    assert enabled(("a", 0, False)) == ["a", 0, False]  # only None means switched off
    assert list(enabled({"z": 1, "off": None, "a": 2}).items()) == [("z", 1), ("a", 2)]
    with pytest.raises(TypeError, match="list or a dict"):
        enabled("handlers")


@pytest.mark.parametrize("ema_off", [True, False])
def test_enabled_over_a_config_list_with_a_disabled_component(ema_off):
    parser = ConfigParser({
        "ema_off": ema_off,
        "ema": {"_target_": "monai.transforms.Identity", "_disabled_": "@ema_off"},
        "handlers": {"_target_": "monai_genmed.utils.enabled", "items": ["$'first'", "@ema", "$'last'"]},
    })  # fmt: skip
    handlers = parser.get_parsed_content("handlers")
    assert handlers[0] == "first" and handlers[-1] == "last" and len(handlers) == (2 if ema_off else 3)

"""ensure_bool: a command-line 'false' (a string) is an error with the fix, never a silent True."""

from __future__ import annotations

import numpy as np
import pytest

from monai_genmed.networks.blocks import SingleCoilDataConsistency
from monai_genmed.networks.nets import DAGANGenerator, DCGANDiscriminator
from monai_genmed.utils import ensure_bool


def test_bools_pass_and_strings_are_refused_with_the_spelling_that_works():
    assert ensure_bool(True, "x") is True and ensure_bool(np.bool_(False), "x") is False
    with pytest.raises(TypeError, match=r"--refinement False \(capitalised\)"):
        ensure_bool("false", "refinement")
    with pytest.raises(TypeError, match="must be True or False, got 1"):
        ensure_bool(1, "refinement")


def test_networks_refuse_a_string_switch():
    with pytest.raises(TypeError, match="--refinement False"):
        DAGANGenerator(spatial_dims=2, channels=(4, 8), up_channels=(8, 4), refinement="false")
    with pytest.raises(TypeError, match="--real_valued False"):
        SingleCoilDataConsistency(real_valued="false")
    with pytest.raises(TypeError, match="--spectral_norm True"):
        DCGANDiscriminator(spectral_norm="true")

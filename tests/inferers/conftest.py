from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.nets import DAGANGenerator


@pytest.fixture
def tiny_generator() -> DAGANGenerator:
    """A 3-level DAGAN generator (inputs divisible by 8) in eval mode, with batch norm running statistics."""
    torch.manual_seed(0)
    net = DAGANGenerator(spatial_dims=2, channels=(4, 8, 8), up_channels=(8, 8, 4))
    # non-trivial normalisation statistics, so that eval-mode batch norm (folded by ONNX Runtime) matters
    with torch.no_grad():
        net.train()(torch.rand(4, 1, 32, 32))
    return net.eval()


@pytest.fixture
def slices() -> torch.Tensor:
    """Two 24x40 slices in [0, 1] (odd multiples of the generator's size divisor 8)."""
    return torch.rand(2, 1, 24, 40, generator=torch.Generator().manual_seed(1))

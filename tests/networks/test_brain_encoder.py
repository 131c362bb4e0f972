from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.nets import BRAIN_ENCODER_64_WEIGHTS, BrainSliceEncoder, load_brain_encoder


@pytest.mark.parametrize("batch", [1, 3])
def test_features_have_feature_dim(batch):
    encoder = BrainSliceEncoder(channels=(4, 8), spatial_size=16, feature_dim=5, convs_per_stage=(2, 1)).eval()
    assert encoder(torch.rand(batch, 1, 16, 16)).shape == (batch, 5)


def test_torchscript_matches_eager():
    torch.manual_seed(0)
    encoder = BrainSliceEncoder(channels=(4, 8, 8, 8), feature_dim=6).eval()
    scripted = torch.jit.script(encoder)
    x = torch.rand(2, 1, 64, 64)
    torch.testing.assert_close(scripted(x), encoder(x))


def test_wrong_size_names_the_resize():
    encoder = BrainSliceEncoder(channels=(4, 8, 8, 8), feature_dim=6).eval()
    with pytest.raises(ValueError, match=r"Resized\(keys='image', spatial_size=\(64, 64\)\)"):
        encoder(torch.rand(2, 1, 48, 48))


def test_spatial_size_must_survive_every_halving():
    with pytest.raises(ValueError, match="divisible by 2 \\*\\* 4"):
        BrainSliceEncoder(spatial_size=72)


def test_shipped_weights_load_small_and_frozen():
    assert BRAIN_ENCODER_64_WEIGHTS.stat().st_size < 2_000_000
    encoder = load_brain_encoder()
    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())
    features = encoder(torch.rand(3, 1, 64, 64))
    assert features.shape == (3, 128) and torch.isfinite(features).all()
    # trained, not random: a blank slice and a bright square give clearly different features
    blank, square = torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 64, 64)
    square[..., 16:48, 16:48] = 0.8
    assert (encoder(blank) - encoder(square)).norm() > 0.1 * encoder(square).norm()


def test_missing_weights_say_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m monai_genmed.apps.feature_encoder"):
        load_brain_encoder(tmp_path / "nothing.pt")


def test_plain_state_dict_is_not_an_encoder_file(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(BrainSliceEncoder().state_dict(), path)
    with pytest.raises(ValueError, match="plain.pt.*not a brain encoder file"):
        load_brain_encoder(path)


def test_file_of_another_architecture_is_named(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"config": {"feature_dim": 128}, "state_dict": BrainSliceEncoder(feature_dim=64).state_dict()}, path)
    with pytest.raises(ValueError, match="other.pt.*does not fit BrainSliceEncoder"):
        load_brain_encoder(path)

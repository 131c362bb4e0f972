from __future__ import annotations

import pytest
import torch

from monai_genmed.apps.generative import record_shipped_sampler, score_sampler, verify_shipped_sampler


def mean_distance(samples, reference):
    """A stand-in for the FD: distance of the sample mean to the reference mean."""
    return (samples.mean(0) - reference.mean(0)).norm()


def decoder():
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Unflatten(1, (1, 4, 4)), torch.nn.Sigmoid())


@pytest.fixture
def shipped(tmp_path):
    torch.manual_seed(0)
    network = decoder()
    checkpoint = tmp_path / "model" / "model.pt"
    checkpoint.parent.mkdir()
    torch.save({"model": network.state_dict()}, checkpoint)
    (checkpoint.parent / "command.txt").write_text("python -m monai.bundle run ...\n")
    reference = torch.rand(10, 1, 4, 4)

    def score(net=None):
        return score_sampler(net or decoder(), checkpoint, reference, mean_distance, latent_dim=4, num_samples=8)

    manifest = tmp_path / "manifest.json"
    entry = record_shipped_sampler(manifest, "model", checkpoint, score(), {"num_samples": 8})
    return manifest, checkpoint, score, entry


def test_a_recorded_sampler_verifies_and_its_entry_names_the_command(shipped):
    manifest, checkpoint, score, entry = shipped
    assert entry["command"] == "python -m monai.bundle run ..." and entry["bytes"] == checkpoint.stat().st_size
    result = verify_shipped_sampler(manifest, "model", checkpoint, score)
    assert result["val_fd"] == pytest.approx(entry["val_fd"])


def test_a_replaced_file_fails_on_its_sha256_and_a_changed_network_on_its_fd(shipped):
    manifest, checkpoint, score, _ = shipped
    with pytest.raises(ValueError, match="git checkout"):
        verify_shipped_sampler(manifest, "model", checkpoint.parent / "command.txt", score)

    class Shifted(torch.nn.Sequential):  # the same weights, another definition: the samples move
        def __init__(self):
            super().__init__(*decoder())

        def forward(self, z):
            return super().forward(z) * 0.5

    with pytest.raises(ValueError, match="network definition"):
        verify_shipped_sampler(manifest, "model", checkpoint, lambda: score(Shifted()))
    with pytest.raises(ValueError, match="no entry 'other'"):
        verify_shipped_sampler(manifest, "other", checkpoint, score)

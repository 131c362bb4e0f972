"""Wrong weight files get a message naming the file, what it holds and what to set (issue: reliability, defect 5)."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine

from monai_genmed.handlers import ModelWeightsLoader, load_model_weights


def _net(width=4):
    return torch.nn.Sequential(torch.nn.Conv2d(1, width, 3), torch.nn.ReLU(), torch.nn.Conv2d(width, 1, 3))


def test_bare_and_nested_state_dicts_load(tmp_path):
    source = _net()
    torch.save(source.state_dict(), tmp_path / "bare.pt")
    torch.save({"model": source.state_dict()}, tmp_path / "nested.pt")
    for name in ("bare.pt", "nested.pt"):
        target = _net()
        assert load_model_weights(target, tmp_path / name) is None
        torch.testing.assert_close(target[0].weight, source[0].weight)
    loader = ModelWeightsLoader(tmp_path / "nested.pt", target := _net())
    loader(Engine(lambda e, b: None))
    torch.testing.assert_close(target[2].weight, source[2].weight)


@pytest.mark.parametrize(
    "content, phrases",
    [
        (b"this is not a checkpoint", ["junk.pt", "not a PyTorch weights file", "--ckpt_path"]),
        (
            {"trainer": {"epoch": 3}, "network_generator": None, "optimizer_generator": {}},
            ["is a training checkpoint", "network_generator", "--ckpt_key network_generator", "models/model.pt"],
        ),
        ({"model": {"head.weight": torch.zeros(2, 2)}}, ["another network", "head.weight", "discriminator"]),
        (
            {"model": _net(8).state_dict()},
            ["does not fit", "0.weight: file (8, 1, 3, 3), network (4, 1, 3, 3)", "generator_channels"],
        ),
        ({"weights": _net().state_dict()}, ["no weights under 'model'", "weights", "--ckpt_key"]),
    ],
    ids=["junk", "training-checkpoint", "other-network", "other-width", "other-key"],
)
def test_wrong_files_name_the_file_and_the_fix(tmp_path, content, phrases):
    path = tmp_path / "junk.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ValueError) as info:
        load_model_weights(_net(), path, network_keys=("generator_channels",))
    message = str(info.value)
    assert "junk.pt" in message and "weights_only=False" not in message
    for phrase in phrases:
        assert phrase in message


def test_missing_and_empty_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ckpt_path=.*gone.pt.*train"):
        load_model_weights(_net(), tmp_path / "gone.pt")
    with pytest.raises(ValueError, match="ckpt_path is empty"):
        load_model_weights(_net(), "")

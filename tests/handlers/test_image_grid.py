from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from PIL import Image

from monai_genmed.handlers import ImageGridSaver, make_image_grid


def test_grid_layout_and_error_column():
    batch = {"in": np.zeros((3, 1, 8, 10)), "pred": np.full((3, 1, 8, 10), 0.5), "ref": np.full((3, 1, 8, 10), 0.4)}
    grid = make_image_grid(batch, ["in", "pred", "ref"], ("pred", "ref"), (0.0, 1.0), error_gain=5.0, max_samples=2)
    assert grid.shape == (16, 40)
    np.testing.assert_allclose(grid[:, 10:20], 0.5)
    np.testing.assert_allclose(grid[:, 30:], 0.5)  # |0.5 - 0.4| * 5


@pytest.mark.parametrize("decollated", [False, True])
def test_saver_writes_png_and_tensorboard_on_the_first_batch_of_each_epoch(tmp_path, decollated):
    def step(engine, batch):
        out = {"image": batch, "pred": batch * 0.9, "label": batch}
        return [{k: v[i] for k, v in out.items()} for i in range(len(batch))] if decollated else out

    engine = Engine(step)
    saver = ImageGridSaver(
        columns=["image", "pred", "label"],
        titles=["undersampled", "reconstruction", "target"],
        error=["pred", "label"],
        output_dir=str(tmp_path / "png"),
        log_dir=str(tmp_path / "tb"),
    )
    saver.attach(engine)
    data = [torch.rand(2, 1, 16, 16) for _ in range(3)]
    engine.run(data, max_epochs=2)
    assert [p.split("/")[-1] for p in saver.written] == ["epoch_0001.png", "epoch_0002.png"]
    png = Image.open(saver.written[0])
    assert png.size[0] > png.size[1]  # four columns side by side, two rows
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert saver.titles[-1] == "|reconstruction - target| x 5"


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="titles"):
        ImageGridSaver(columns=["a", "b"], titles=["only one"])
    with pytest.raises(ValueError, match="two keys"):
        ImageGridSaver(columns=["a"], error=["a"])

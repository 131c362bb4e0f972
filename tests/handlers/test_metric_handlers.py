from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from monai.bundle import ConfigParser
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator
from monai.handlers import from_engine
from scipy.ndimage import gaussian_filter

from monai_genmed.handlers.metrics import (
    NMSE,
    HounsfieldMAE,
    MaskedPSNR,
    MaskedSSIM,
    SynthRADPSNR,
    SynthRADSSIM,
)
from monai_genmed.metrics import (
    compute_hounsfield_mae,
    compute_nmse,
    compute_psnr,
    compute_ssim,
    compute_synthrad_psnr,
    compute_synthrad_ssim,
)

SHAPE = (4, 1, 17, 20)  # four samples, fed two per iteration


@pytest.fixture
def images() -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(0)
    label = gaussian_filter(rng.random(SHAPE), sigma=(0, 0, 2, 2))
    pred = label + 0.05 * rng.standard_normal(SHAPE)
    mask = np.zeros(SHAPE, dtype=np.float32)
    for i in range(SHAPE[0]):
        mask[i, :, 4 + i : 13, 6 : 16 - i] = 1  # partly in SSIM's 5-voxel border, partly inside
    return {"pred": torch.as_tensor(pred), "label": torch.as_tensor(label), "mask": torch.as_tensor(mask)}


def run_engine(handler, name: str, images: dict[str, torch.Tensor], output_keys: tuple[str, ...]) -> Engine:
    """Attach ``handler`` to an engine whose output is ``images[output_keys]``, two samples per iteration."""
    batches = [{k: v[i : i + 2] for k, v in images.items()} for i in (0, 2)]
    engine = Engine(lambda engine, batch: tuple(batch[k] for k in output_keys))
    handler.attach(engine, name)
    engine.run(batches, max_epochs=1)
    return engine


def test_nmse_handler_writes_epoch_mean(images):
    engine = run_engine(NMSE(squared=False), "nmse", images, ("pred", "label"))
    expected = compute_nmse(images["pred"], images["label"], squared=False)
    assert engine.state.metrics["nmse"] == pytest.approx(expected.mean().item(), rel=1e-6)
    np.testing.assert_allclose(engine.state.metric_details["nmse"].flatten(), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "handler, function",
    [
        (lambda: MaskedPSNR(data_range=1.0), lambda p, y, m: compute_psnr(p, y, 1.0, mask=m)),
        (lambda: MaskedSSIM(spatial_dims=2, data_range=1.0), lambda p, y, m: compute_ssim(p, y, 1.0, mask=m)),
    ],
)
def test_masked_handler_takes_mask_from_output(images, handler, function):
    engine = run_engine(handler(), "metric", images, ("pred", "label", "mask"))
    expected = function(images["pred"], images["label"], images["mask"])
    assert engine.state.metrics["metric"] == pytest.approx(expected.mean().item(), rel=1e-6)
    unmasked = run_engine(handler(), "metric", images, ("pred", "label"))
    assert unmasked.state.metrics["metric"] != pytest.approx(engine.state.metrics["metric"], rel=1e-3)


def test_masked_handler_takes_mask_from_batch(images):
    batches = [{k: v[i : i + 2] for k, v in images.items()} for i in (0, 2)]
    engine = Engine(lambda engine, batch: {"pred": batch["pred"], "label": batch["label"]})
    MaskedPSNR(data_range=1.0, mask_key="mask", output_transform=from_engine(["pred", "label"])).attach(engine, "psnr")
    engine.run(batches, max_epochs=1)
    expected = compute_psnr(images["pred"], images["label"], 1.0, mask=images["mask"])
    assert engine.state.metrics["psnr"] == pytest.approx(expected.mean().item(), rel=1e-6)


def test_handlers_in_monai_supervised_evaluator(images):
    """An identity network makes pred = image, so every metric compares known arrays; decollate is MONAI's default."""
    hu = {k: (v * 4400.0 - 1200.0 if k != "mask" else v) for k, v in images.items()}  # CT-like values in HU
    data = [{"image": hu["pred"][i], "label": hu["label"][i], "body": hu["mask"][i]} for i in range(SHAPE[0])]
    pair = from_engine(["pred", "label"])
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(Dataset(data), batch_size=2),
        network=torch.nn.Identity(),
        key_val_metric={"mae": HounsfieldMAE(output_transform=pair, mask_key="body")},
        additional_metrics={
            "psnr": SynthRADPSNR(output_transform=pair, mask_key="body"),
            "ssim": SynthRADSSIM(spatial_dims=2, output_transform=pair, mask_key="body"),
            "nmse": NMSE(output_transform=pair),
        },
    )
    evaluator.run()
    assert isinstance(evaluator.state.batch, list)  # decollated: the handlers got lists of samples and masks
    metrics = evaluator.state.metrics
    pred, label, body = hu["pred"], hu["label"], hu["mask"]
    assert metrics["mae"] == pytest.approx(compute_hounsfield_mae(pred, label, body).mean().item(), rel=1e-6)
    assert metrics["psnr"] == pytest.approx(compute_synthrad_psnr(pred, label, body).mean().item(), rel=1e-6)
    assert metrics["ssim"] == pytest.approx(compute_synthrad_ssim(pred, label, body).mean().item(), rel=1e-6)
    assert metrics["nmse"] == pytest.approx(compute_nmse(pred, label).mean().item(), rel=1e-6)
    assert evaluator.state.best_metric == pytest.approx(metrics["mae"])
    assert evaluator.state.metric_details["psnr"].shape == (SHAPE[0], 1)


def test_handler_from_bundle_config(images):
    config = {
        "psnr": {
            "_target_": "monai_genmed.handlers.metrics.MaskedPSNR",
            "data_range": 1.0,
            "mask_key": "mask",
            "output_transform": "$monai.handlers.from_engine(['pred', 'label'])",
        }
    }
    handler = ConfigParser(config).get_parsed_content("psnr")
    batches = [{k: v[i : i + 2] for k, v in images.items()} for i in (0, 2)]
    engine = Engine(lambda engine, batch: {"pred": batch["pred"], "label": batch["label"]})
    handler.attach(engine, "psnr")
    engine.run(batches, max_epochs=1)
    expected = compute_psnr(images["pred"], images["label"], 1.0, mask=images["mask"])
    assert engine.state.metrics["psnr"] == pytest.approx(expected.mean().item(), rel=1e-6)


def test_masked_handler_errors(images):
    with pytest.raises(TypeError, match="output_transform to return"):
        run_engine(MaskedPSNR(data_range=1.0, output_transform=lambda o: {"pred": o[0]}), "psnr", images, ("pred",))
    with pytest.raises(KeyError, match="'brain' is not in engine.state.batch"):
        run_engine(MaskedPSNR(data_range=1.0, mask_key="brain"), "psnr", images, ("pred", "label"))
    with pytest.raises(ValueError, match="adds the mask itself"):
        run_engine(MaskedPSNR(data_range=1.0, mask_key="mask"), "psnr", images, ("pred", "label", "mask"))
    with pytest.raises(ValueError, match="data_range must be finite and positive"):
        MaskedPSNR(data_range=0.0)

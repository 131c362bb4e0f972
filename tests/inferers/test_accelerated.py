from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor
from monai.inferers import SimpleInferer, SliceInferer

from monai_genmed.inferers import AcceleratedInferer

onnxruntime = pytest.importorskip("onnxruntime")
BACKENDS = ["torch", "onnxruntime"]


def plain(net, x, inferer=None):
    with torch.no_grad():
        return (inferer or SimpleInferer())(x, net)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("inference_mode", [True, False])
def test_torch_fp32_matches_plain_inferer(tiny_generator, slices, channels_last, inference_mode):
    expected = plain(tiny_generator, slices)
    out = AcceleratedInferer(channels_last=channels_last, inference_mode=inference_mode)(slices, tiny_generator)
    assert out.dtype == torch.float32 and out.is_contiguous() and out.shape == slices.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_onnxruntime_matches_plain_inferer(tiny_generator, slices):
    out = AcceleratedInferer(backend="onnxruntime")(slices, tiny_generator)
    assert out.dtype == torch.float32 and out.shape == slices.shape
    torch.testing.assert_close(out, plain(tiny_generator, slices), atol=1e-5, rtol=1e-5)


def test_bfloat16_autocast_returns_float32_close_to_fp32(tiny_generator, slices):
    out = AcceleratedInferer(dtype="bfloat16")(slices, tiny_generator)
    assert out.dtype == torch.float32
    # bf16 keeps 8 mantissa bits: close to fp32, yet it really ran in reduced precision
    difference = (out - plain(tiny_generator, slices)).abs().max().item()
    assert 0 < difference < 0.02


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("meta", [False, True])
def test_slice_inferer_on_a_volume(tiny_generator, backend, meta):
    volume = torch.rand(1, 1, 32, 32, 3, generator=torch.Generator().manual_seed(2))
    expected = plain(tiny_generator, volume, SliceInferer(roi_size=(32, 32), spatial_dim=2, progress=False))
    if meta:  # what LoadImaged gives the bundle's SliceInferer
        volume = MetaTensor(volume, meta={"filename_or_obj": "volume.nii.gz"})
    slicer = SliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=2, progress=False)
    out = AcceleratedInferer(slicer, backend=backend)(volume, tiny_generator)
    assert out.shape == volume.shape and out.dtype == torch.float32
    torch.testing.assert_close(torch.as_tensor(out), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_output_is_an_ordinary_tensor(tiny_generator, slices, backend):
    out = AcceleratedInferer(backend=backend)(slices, tiny_generator)
    assert not torch.is_inference(out) and not out.requires_grad
    out.add_(1.0)  # in-place post-processing must work (it raises on an inference tensor)


def test_channels_last_converts_weights_in_place(tiny_generator, slices):
    first_conv = tiny_generator.down[1].conv
    weight = first_conv.weight
    AcceleratedInferer()(slices, tiny_generator)
    assert first_conv.weight is weight  # optimizers keep pointing at the same parameters
    assert weight.is_contiguous(memory_format=torch.channels_last)


def test_onnxruntime_re_exports_when_weights_or_shape_change(tiny_generator, slices):
    inferer = AcceleratedInferer(backend="onnxruntime")
    before = inferer(slices, tiny_generator)
    with torch.no_grad():  # what an optimizer step or load_state_dict does: an in-place change
        tiny_generator.output_conv.bias.add_(0.5)
    after = inferer(slices, tiny_generator)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, plain(tiny_generator, slices), atol=1e-5, rtol=1e-5)
    square = torch.rand(3, 1, 16, 16)
    torch.testing.assert_close(inferer(square, tiny_generator), plain(tiny_generator, square), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"dtype": "int8"}, ValueError),
        ({"dtype": "float17"}, ValueError),
        ({"backend": "tensorrt"}, ValueError),
        ({"backend": "onnxruntime", "dtype": "bfloat16"}, ValueError),
        ({"inferer": 3}, TypeError),
    ],
)
def test_bad_arguments_name_the_fix(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs)) if error is ValueError else "inferer"):
        AcceleratedInferer(**kwargs)


def test_onnxruntime_needs_a_module(slices):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        AcceleratedInferer(backend="onnxruntime")(slices, lambda x: x)

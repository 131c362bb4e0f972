"""AcceleratedInferer(backend="auto"): measures the paths on this machine and keeps the fastest that agrees with fp32.

Which path is fastest here is not asserted: where a test needs one path to be the fastest, it slows the others.
"""

from __future__ import annotations

import logging
import math
import types

import pytest
import torch
from monai.inferers import SliceInferer

import monai_genmed.inferers.accelerated as accelerated
from monai_genmed.inferers import AcceleratedInferer, KspaceSliceInferer
from monai_genmed.utils import cpu_summary

onnxruntime = pytest.importorskip("onnxruntime")

FP32, BF16, ONNX = accelerated.TORCH_FP32, accelerated.TORCH_BF16, accelerated.ONNX_FP32


class Counting(torch.nn.Module):
    """Counts its forward calls (ONNX Runtime runs the exported graph, so only torch paths and the export count)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(x)


class KspaceNet(torch.nn.Module):
    """A k-space style network: a convolution, then data consistency on the measured samples."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, kspace_masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        k = torch.fft.fft2(self.conv(x).float())
        return torch.fft.ifft2(k * (1 - mask) + kspace_masked * mask).abs()


def slow(inferer: AcceleratedInferer, monkeypatch: pytest.MonkeyPatch, paths: set[str], seconds: float = 0.1) -> None:
    """Make the named paths of ``inferer`` take ``seconds`` longer per call than the others, on any CPU and load.

    The inferer's clock is replaced by a virtual one that only the paths advance (1 ms a call, plus ``seconds`` for
    the named ones), so the ranking the test needs cannot be upset by a busy machine (a real sleep could: CI once
    measured bf16 at 120 ms against a slept fp32 at 114 ms).
    """
    torch_run, onnx_run = inferer._torch_run, inferer._onnx_run
    names = {None: FP32, torch.bfloat16: BF16, torch.float16: accelerated.TORCH_FP16}
    clock = [0.0]

    def spend(path: str) -> None:
        clock[0] += 0.001 + (seconds if path in paths else 0.0)

    def slow_torch(network, inputs, dtype, args, kwargs):
        spend(names[dtype])
        return torch_run(network, inputs, dtype, args, kwargs)

    def slow_onnx(network, inputs, args, kwargs):
        spend(ONNX)
        return onnx_run(network, inputs, args, kwargs)

    monkeypatch.setattr(inferer, "_torch_run", slow_torch)
    monkeypatch.setattr(inferer, "_onnx_run", slow_onnx)
    monkeypatch.setattr(accelerated, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))


def only_choice(inferer: AcceleratedInferer) -> dict:
    assert len(inferer.choices) == 1
    return next(iter(inferer.choices.values()))


def test_output_is_the_chosen_paths_output(tiny_generator, slices):
    inferer = AcceleratedInferer(backend="auto")
    out = inferer(slices, tiny_generator)
    assert out.dtype == torch.float32 and out.shape == slices.shape and not torch.is_inference(out)
    choice = only_choice(inferer)
    assert choice["path"] in choice["ms"] and choice["path"] not in choice["rejected"]
    if choice["path"] == ONNX:
        direct = AcceleratedInferer(backend="onnxruntime")
    else:
        direct = AcceleratedInferer(backend="torch", dtype={FP32: None, BF16: "bfloat16"}[choice["path"]])
    torch.testing.assert_close(out, direct(slices, tiny_generator), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(inferer(slices, tiny_generator), out, atol=0, rtol=0)  # the cached path again


def test_fp32_alone_equals_the_torch_backend(tiny_generator, slices, monkeypatch):
    monkeypatch.setattr(accelerated, "native_bf16", lambda: False)
    inferer = AcceleratedInferer(backend="auto")
    inferer._onnx = None  # as without onnxruntime installed
    out = inferer(slices, tiny_generator)
    assert only_choice(inferer)["path"] == FP32 and list(only_choice(inferer)["ms"]) == [FP32]
    assert torch.equal(out, AcceleratedInferer(backend="torch")(slices, tiny_generator))


def test_bf16_is_never_tried_without_native_bf16(tiny_generator, slices, monkeypatch):
    monkeypatch.setattr(accelerated, "native_bf16", lambda: False)
    inferer = AcceleratedInferer(backend="auto")
    dtypes = []
    torch_run = inferer._torch_run

    def spy(network, inputs, dtype, args, kwargs):
        dtypes.append(dtype)
        return torch_run(network, inputs, dtype, args, kwargs)

    monkeypatch.setattr(inferer, "_torch_run", spy)
    inferer(slices, tiny_generator)
    assert dtypes and set(dtypes) == {None}
    assert set(only_choice(inferer)["ms"]) == {FP32, ONNX}


def test_the_fastest_agreeing_path_is_kept(tiny_generator, slices, monkeypatch):
    """With torch paths slowed down, ONNX Runtime (fp32, agrees within 1e-4) is chosen: the choice follows speed."""
    monkeypatch.setattr(accelerated, "native_bf16", lambda: True)  # bf16 candidate on any CPU
    inferer = AcceleratedInferer(backend="auto", timing_repeats=2)
    slow(inferer, monkeypatch, {FP32, BF16})
    out = inferer(slices, tiny_generator)
    choice = only_choice(inferer)
    assert choice["path"] == ONNX and choice["max_relative_diff"][ONNX] <= 1e-4
    assert choice["ms"][ONNX] < choice["ms"][FP32] and choice["ms"][ONNX] < choice["ms"][BF16]
    torch.testing.assert_close(out, AcceleratedInferer(backend="onnxruntime")(slices, tiny_generator), atol=0, rtol=0)


def test_a_faster_path_that_disagrees_is_not_used(tiny_generator, slices, monkeypatch):
    """fp32 is the slowest path, yet kept: ONNX Runtime gives a perturbed output, bf16 misses min_agreement_db."""
    monkeypatch.setattr(accelerated, "native_bf16", lambda: True)
    inferer = AcceleratedInferer(backend="auto", min_agreement_db=math.inf, timing_repeats=2)
    slow(inferer, monkeypatch, {FP32})
    onnx_run = inferer._onnx_run
    monkeypatch.setattr(inferer, "_onnx_run", lambda *a: onnx_run(*a) * (1 + 1e-3))
    out = inferer(slices, tiny_generator)
    choice = only_choice(inferer)
    assert choice["path"] == FP32 and set(choice["rejected"]) == {ONNX, BF16}
    assert choice["ms"][FP32] > max(choice["ms"][ONNX], choice["ms"][BF16])
    assert choice["max_relative_diff"][ONNX] == pytest.approx(1e-3, rel=0.1)
    assert torch.equal(out, AcceleratedInferer(backend="torch")(slices, tiny_generator))


def test_a_reduced_precision_path_is_judged_by_its_psnr_against_fp32(tiny_generator, slices, monkeypatch):
    """bf16 (made fastest) is used exactly when it agrees with fp32 at >= min_agreement_db."""
    monkeypatch.setattr(accelerated, "native_bf16", lambda: True)
    for threshold in (-math.inf, math.inf):
        inferer = AcceleratedInferer(backend="auto", min_agreement_db=threshold, timing_repeats=1)
        inferer._onnx = None
        slow(inferer, monkeypatch, {FP32})
        inferer(slices, tiny_generator)
        choice = only_choice(inferer)
        assert choice["path"] == (BF16 if threshold < 0 else FP32)
        assert math.isfinite(choice["agreement_db"][BF16]) and choice["agreement_db"][BF16] > 20  # close, not equal


def test_the_decision_is_measured_once_per_signature(tiny_generator, slices, caplog):
    net = Counting(tiny_generator)
    inferer = AcceleratedInferer(backend="auto", timing_repeats=2)
    with caplog.at_level(logging.INFO, logger=accelerated.__name__):
        first = inferer(slices, net)
    measuring = net.calls
    assert measuring >= 1 + 2  # the fp32 reference: a warm-up and two timed calls
    path = only_choice(inferer)["path"]
    assert torch.equal(inferer(slices, net), first)
    assert net.calls - measuring == (0 if path == ONNX else 1)  # cached: the chosen path alone, once
    logged = [r.getMessage() for r in caplog.records if "backend='auto'" in r.getMessage()]
    assert len(logged) == 1 and cpu_summary() in logged[0] and path in logged[0]
    before = net.calls
    inferer(slices[:1], net)  # a new signature (batch 1) is measured on its own
    assert net.calls - before >= 3 and len(inferer.choices) == 2
    inferer.reset_choices()
    assert inferer.choices == {}


def test_slice_inferer_on_a_volume(tiny_generator):
    volume = torch.rand(1, 1, 32, 32, 3, generator=torch.Generator().manual_seed(2))
    slicer = SliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=2, progress=False)
    out = AcceleratedInferer(slicer, backend="auto", min_agreement_db=math.inf)(volume, tiny_generator)
    expected = AcceleratedInferer(slicer, backend="torch")(volume, tiny_generator)
    assert out.shape == volume.shape and out.dtype == torch.float32
    torch.testing.assert_close(torch.as_tensor(out), expected, atol=1e-5, rtol=1e-5)


def test_a_network_with_kspace_arguments_never_goes_to_onnxruntime(monkeypatch):
    g = torch.Generator().manual_seed(0)
    volume = torch.rand(1, 1, 8, 8, 3, generator=g)
    kspace = torch.fft.fft2(volume.movedim(-1, 2)).movedim(2, -1).to(torch.complex64)
    mask = (torch.rand(1, 1, 8, 8, generator=g) > 0.5).float()
    net = KspaceNet().eval()
    inferer = AcceleratedInferer(KspaceSliceInferer(sw_batch_size=2), backend="auto", min_agreement_db=math.inf)
    monkeypatch.setattr(inferer, "_onnx_run", lambda *a: pytest.fail("k-space networks must not be exported"))
    out = inferer(volume, net, kspace_masked=kspace, mask=mask)
    assert set(inferer.choices) and all(s.extra_args and ONNX not in c["ms"] for s, c in inferer.choices.items())
    assert {c["path"] for c in inferer.choices.values()} == {FP32}  # bf16 (if tried) misses an infinite threshold
    with torch.no_grad():
        expected = KspaceSliceInferer(sw_batch_size=2)(volume, net, kspace_masked=kspace, mask=mask)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_a_failing_candidate_is_left_out(tiny_generator, slices, monkeypatch):
    inferer = AcceleratedInferer(backend="auto")
    monkeypatch.setattr(inferer, "_onnx_run", lambda *a: (_ for _ in ()).throw(RuntimeError("unsupported op")))
    out = inferer(slices, tiny_generator)
    choice = only_choice(inferer)
    assert "unsupported op" in choice["rejected"][ONNX] and choice["path"] != ONNX
    assert out.shape == slices.shape


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"one of \('auto', 'torch', 'onnxruntime'\)"):
        AcceleratedInferer(backend="tensorrt")
    with pytest.raises(ValueError, match="set dtype=None"):
        AcceleratedInferer(backend="auto", dtype="bfloat16")
    with pytest.raises(ValueError, match="min_agreement_db"):
        AcceleratedInferer(backend="auto", min_agreement_db="high")
    with pytest.raises(ValueError, match="timing_repeats"):
        AcceleratedInferer(backend="auto", timing_repeats=0)

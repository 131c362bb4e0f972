"""An inferer that runs any MONAI inferer's network calls on a faster execution path.

The DAGAN benchmark (``benchmarks/bench_dagan_inference.py``) measured what pays off for U-Net generators on a
CPU: batching slices (``SliceInferer(sw_batch_size=8)``), channels-last weights and activations (oneDNN's
blocked kernels), ``torch.inference_mode`` and, fastest in fp32, ONNX Runtime, whose CPU kernels fuse batch
norm and activations into the (transposed) convolutions. bfloat16 autocast only pays on CPUs with native bf16
(AVX512_BF16 or AMX) and on GPUs; without them PyTorch falls back to slow reference kernels. This inferer
makes those choices one config entry, whatever inferer does the tiling.
"""

from __future__ import annotations

import contextlib
import io
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer
from monai.utils import convert_to_tensor, optional_import

ort, _has_ort = optional_import("onnxruntime")

__all__ = ["AcceleratedInferer"]

BACKENDS = ("torch", "onnxruntime")


def _as_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    if dtype is None:
        return None
    resolved = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise ValueError(f"dtype must be None, 'bfloat16' or 'float16' (a floating torch dtype), got {dtype!r}.")
    return resolved


def _memory_format(tensor: torch.Tensor) -> torch.memory_format | None:
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(tensor.dim())


def _to_plain_float32(value: Any) -> Any:
    """float32, contiguous, and no longer an inference tensor (so later in-place transforms work)."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and value.dtype != torch.float32:
            value = value.float()
        if torch.is_inference(value) or not value.is_contiguous():
            with torch.inference_mode(False):
                value = value.clone(memory_format=torch.contiguous_format)
        return value
    if isinstance(value, Mapping):
        return {k: _to_plain_float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain_float32(v) for v in value)
    return value


class _OnnxRuntimeRunner:
    """Runs a network through ONNX Runtime, exporting it again whenever its weights or the input layout change."""

    def __init__(self, opset: int, threads: int | None) -> None:
        self.opset, self.threads = opset, threads
        # network -> {(channels, spatial shape): (weights fingerprint, session)}
        self.sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @staticmethod
    def _fingerprint(network: torch.nn.Module) -> tuple:
        # a tensor's version counter moves with every in-place change: optimizer steps, load_state_dict, BN stats
        return tuple((k, v.data_ptr(), v._version) for k, v in network.state_dict(keep_vars=True).items())

    def _export(self, network: torch.nn.Module, sample: torch.Tensor) -> Any:
        buffer = io.BytesIO()
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
            # the TorchScript-based exporter: the torch.export-based one needs onnxscript, not a dependency here
            torch.onnx.export(
                network, (sample.detach().clone(),), buffer, dynamo=False, opset_version=self.opset,
                input_names=["input"], output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            )  # fmt: skip
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, network: Callable, inputs: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not isinstance(network, torch.nn.Module):
            raise TypeError(
                "backend='onnxruntime' exports the network, so it must be a torch.nn.Module, "
                f"got {type(network).__name__}."
            )
        if args or kwargs:
            raise ValueError(
                "backend='onnxruntime' runs single-input networks; extra network arguments need backend='torch'."
            )
        if inputs.device.type != "cpu":
            raise ValueError(
                f"backend='onnxruntime' runs on the CPU, got inputs on {inputs.device}; use backend='torch' there."
            )
        inputs = convert_to_tensor(inputs, dtype=torch.float32, track_meta=False).contiguous()  # ONNX sees plain arrays
        signature = tuple(inputs.shape[1:])
        fingerprint = self._fingerprint(network)
        cached = self.sessions.setdefault(network, {}).get(signature)
        if cached is None or cached[0] != fingerprint:
            cached = (fingerprint, self._export(network, inputs))
            self.sessions[network][signature] = cached
        return torch.from_numpy(cached[1].run(None, {"input": inputs.numpy()})[0])


class AcceleratedInferer(Inferer):
    """Wrap a MONAI inferer so that every network call takes a faster path, and return float32.

    With ``backend="torch"`` each call of the network runs under ``torch.inference_mode`` (no autograd
    bookkeeping), on channels-last inputs with channels-last weights, and optionally under ``torch.autocast`` in
    ``dtype``. With ``backend="onnxruntime"`` the network is exported to ONNX on first use (again whenever its
    weights change, e.g. between validation rounds, or the channel/spatial shape of its inputs does) and run by
    ONNX Runtime's CPU provider in float32. Outputs are always float32, contiguous, ordinary tensors (not
    inference tensors), so post-processing may modify them in place.

    The DAGAN benchmark on a 2-core AVX2 CPU (``benchmarks/README.md``): channels-last batch 8 beats eager batch 1
    by about 2x, ONNX Runtime by about 3-4x; bf16 autocast is several times slower there (no native bf16).

    Args:
        inferer: the inferer that tiles or slices the input and calls the network (``SimpleInferer``,
            ``SliceInferer``, ``SlidingWindowInferer``, ...); default ``SimpleInferer()``.
        channels_last: channels-last inputs and weights (``torch`` backend; 4D and 5D inputs). The network's
            weights are converted in place on its first call, as ``network.to(memory_format=...)`` does: values
            and parameter objects stay the same.
        dtype: autocast dtype, ``"bfloat16"`` or ``"float16"`` (``torch`` backend), or None for float32.
        inference_mode: run under ``torch.inference_mode`` rather than only ``torch.no_grad``.
        backend: ``"torch"`` or ``"onnxruntime"`` (needs the ``onnxruntime`` package; CPU, fp32, single-input
            networks).
        onnx_opset: ONNX opset of the export.
        threads: ONNX Runtime intra-op threads; default ``torch.get_num_threads()``.

    Example::

        inferer = AcceleratedInferer(SliceInferer(roi_size=(256, 256), spatial_dim=2, sw_batch_size=8),
                                     backend="onnxruntime")
        pred = inferer(volume, generator)  # volume: (1, 1, 256, 256, D)
    """

    def __init__(
        self,
        inferer: Inferer | Callable[..., Any] | None = None,
        channels_last: bool = True,
        dtype: str | torch.dtype | None = None,
        inference_mode: bool = True,
        backend: str = "torch",
        onnx_opset: int = 17,
        threads: int | None = None,
    ) -> None:
        if inferer is not None and not callable(inferer):
            raise TypeError(
                "inferer must be a MONAI inferer (callable as inferer(inputs, network)), "
                f"got {type(inferer).__name__}."
            )
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
        self.dtype = _as_dtype(dtype)
        if backend == "onnxruntime":
            if self.dtype is not None:
                raise ValueError(f"backend='onnxruntime' runs float32 only; set dtype=None (got {self.dtype}).")
            if not _has_ort:
                raise ImportError("backend='onnxruntime' needs the onnxruntime package: pip install onnxruntime onnx.")
        self.inferer = SimpleInferer() if inferer is None else inferer
        self.channels_last = channels_last
        self.inference_mode = inference_mode
        self.backend = backend
        self._onnx = _OnnxRuntimeRunner(onnx_opset, threads) if backend == "onnxruntime" else None
        self._converted: weakref.WeakSet = weakref.WeakSet()

    def _prepare_network(self, network: Callable, memory_format: torch.memory_format | None) -> None:
        if memory_format is None or not isinstance(network, torch.nn.Module) or network in self._converted:
            return
        with contextlib.suppress(RuntimeError):  # weights of another rank (a mixed 2D/3D net): leave them
            network.to(memory_format=memory_format)
        self._converted.add(network)

    def _torch_call(self, network: Callable, inputs: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        memory_format = _memory_format(inputs) if self.channels_last else None
        if memory_format is not None:
            self._prepare_network(network, memory_format)
            inputs = inputs.contiguous(memory_format=memory_format)
        with torch.autocast(inputs.device.type, dtype=self.dtype or torch.bfloat16, enabled=self.dtype is not None):
            return network(inputs, *args, **kwargs)

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``self.inferer(inputs, network, *args, **kwargs)`` with every network call accelerated.

        Args:
            inputs: the model input, e.g. ``(B, C, H, W)`` or a ``(B, C, H, W, D)`` volume for ``SliceInferer``.
            network: the model.
            args, kwargs: passed on to the inner inferer (and from it to the network).

        Returns:
            the inner inferer's output with every floating tensor in float32.
        """
        if self._onnx is not None:
            onnx = self._onnx

            def call(x: torch.Tensor, *a: Any, **k: Any) -> torch.Tensor:
                return onnx(network, x, *a, **k)

        else:

            def call(x: torch.Tensor, *a: Any, **k: Any) -> Any:
                return self._torch_call(network, x, *a, **k)

        with torch.inference_mode() if self.inference_mode else torch.no_grad():
            outputs = self.inferer(inputs, call, *args, **kwargs)
        return _to_plain_float32(outputs)

"""An inferer that runs any MONAI inferer's network calls on a faster execution path.

The DAGAN benchmark (``benchmarks/bench_dagan_inference.py``) measured what pays off for U-Net generators on a
CPU: batching slices (``SliceInferer(sw_batch_size=8)``), channels-last weights and activations (oneDNN's
blocked kernels), ``torch.inference_mode`` and, fastest in fp32, ONNX Runtime, whose CPU kernels fuse batch
norm and activations into the (transposed) convolutions. bfloat16 autocast only pays on CPUs with native bf16
(AVX512_BF16 or AMX) and on GPUs; without them PyTorch falls back to slow reference kernels. Which path is fastest
differs between machines, so ``backend="auto"`` measures the candidates on the machine it runs on and keeps the
fastest one whose output agrees with fp32. This inferer makes those choices one config entry, whatever inferer
does the tiling.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
from monai.inferers import Inferer, SimpleInferer
from monai.utils import convert_to_tensor, optional_import

from monai_genmed.utils.cpu import cpu_summary, native_bf16

ort, _has_ort = optional_import("onnxruntime")

__all__ = ["AcceleratedInferer", "AutoSignature"]

BACKENDS = ("auto", "torch", "onnxruntime")
#: the execution paths ``backend="auto"`` chooses from (keys of ``AcceleratedInferer.choices[...]["ms"]``)
TORCH_FP32, TORCH_BF16, TORCH_FP16 = "torch fp32", "torch bf16 autocast", "torch fp16 autocast"
ONNX_FP32 = "onnxruntime fp32"
#: largest max |candidate - fp32| / max |fp32| for another fp32 path (ONNX Runtime matches eager within ~5e-7)
FP32_MAX_RELATIVE_DIFF = 1e-4

logger = logging.getLogger(__name__)


class AutoSignature(NamedTuple):
    """What ``backend="auto"`` decides once for: the network and the inputs of one network call."""

    network: str  #: class name and object id, e.g. ``"DAGANGenerator@0x7f..."``
    shape: tuple[int, ...]
    dtype: str
    device: str
    extra_args: bool  #: whether the call passed more than the input (a k-space network's k-space and mask)


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


def _to_float32(value: Any) -> Any:
    """Floating tensors in float32, without copying float32 ones (a window's output before the inferer blends it)."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() and value.dtype != torch.float32 else value
    if isinstance(value, Mapping):
        return {k: _to_float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(v) for v in value)
    return value


def _tensors(value: Any) -> list[torch.Tensor]:
    """Every tensor in a network's output (a tensor, or a list, tuple or dict of them), as plain float64 tensors."""
    if isinstance(value, torch.Tensor):
        return [value.as_subclass(torch.Tensor).detach().to(torch.complex128 if value.is_complex() else torch.float64)]
    if isinstance(value, Mapping):
        return [t for k in sorted(value, key=str) for t in _tensors(value[k])]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _agreement(candidate: Any, reference: Any) -> tuple[float, float]:
    """PSNR (dB) of ``candidate`` against ``reference``, with the reference's max - min as data range (1 when flat),
    and the max abs difference relative to the reference's max abs value. ``(-inf, inf)`` when the structures or
    shapes differ."""
    cand, ref = _tensors(candidate), _tensors(reference)
    if not ref or len(cand) != len(ref) or any(c.shape != r.shape for c, r in zip(cand, ref)):
        return -math.inf, math.inf
    squared = sum(float((c - r).abs().pow(2).sum()) for c, r in zip(cand, ref))
    mse = squared / max(sum(r.numel() for r in ref), 1)
    real = [r.abs() if r.is_complex() else r for r in ref]
    data_range = max(float(r.max()) for r in real) - min(float(r.min()) for r in real)
    data_range = data_range if data_range > 0 else 1.0
    psnr = math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)
    scale = max(float(r.abs().max()) for r in ref)
    max_diff = max(float((c - r).abs().max()) for c, r in zip(cand, ref))
    relative = max_diff / (scale if scale > 0 else 1.0)
    if math.isnan(psnr) or math.isnan(relative):  # NaN in the candidate: it does not agree
        return -math.inf, math.inf
    return psnr, relative


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

    With ``backend="auto"`` the path is measured on the machine the inferer runs on. On the first network call
    for a given :class:`AutoSignature` (network, input shape, dtype and device, whether extra arguments are
    passed) the candidate paths run on that very batch, one warm-up call each (ONNX export happens there) then
    ``timing_repeats`` interleaved timed calls (``time.perf_counter``, the fastest repeat counts):

    * ``"torch fp32"`` (channels-last per ``channels_last``): the reference, always eligible;
    * ``"torch bf16 autocast"`` on a CPU with native bf16 (:func:`monai_genmed.utils.native_bf16`: AVX512_BF16
      or AMX; without them it is several times slower, so it is not even tried), ``"torch fp16 autocast"`` on
      CUDA: eligible when the PSNR of its output against the fp32 output (data range: the fp32 output's
      max - min, 1 when flat) is at least ``min_agreement_db``;
    * ``"onnxruntime fp32"`` when onnxruntime is installed, on the CPU, for a ``torch.nn.Module`` called with the
      input alone (a k-space network's ``kspace_masked=``/``mask=`` rule it out): eligible when its max abs
      difference to the fp32 output is within 1e-4 of the fp32 output's max abs value.

    A candidate that raises is left out (and named in the decision). The fastest eligible path is kept for that
    signature and that batch's output is its output; the decision is logged once at INFO with
    :func:`monai_genmed.utils.cpu_summary` and kept in :attr:`choices`. Every network call's output is cast to
    float32 before the inner inferer blends it. The decision is made with the weights of the first call; call
    :meth:`reset_choices` to measure again (e.g. after loading other weights into the same network).

    Why ``min_agreement_db=67``: when a reconstruction of PSNR ``R`` dB against the ground truth is perturbed by a
    reduced-precision path whose output agrees with fp32 at ``A`` dB (same data range), its mean squared error is
    multiplied by ``1 + r + 2 * rho * sqrt(r)``, with ``r = 10 ** (-(A - R) / 10)`` and ``rho`` the correlation of
    the perturbation with the reconstruction's error. Uncorrelated (``rho = 0``) the loss ``10 * log10(1 + r)``
    stays below the 0.05 dB allowed for ``A - R >= 19.4`` dB: ``A = 60`` costs 0.043 dB at ``R = 40`` and 0.0043
    dB at ``R = 30``. bf16 rounding is only nearly uncorrelated with the error, and for small ``r`` the cross term
    dominates: allowing ``|rho| <= 0.1`` (the largest ``bench_learned_reconstruction.py`` found for the bundle's
    networks, ``benchmarks/README.md``) needs ``A - R >= 26.6`` dB, so for reconstructions of 30-40 dB the
    default is 67 dB: a loss of at most 0.047 dB at ``R = 40``, 0.025 dB at 35 and 0.013 dB at 30 (0.009, 0.003
    and 0.001 dB if uncorrelated). Better reconstructions need a higher threshold.

    Args:
        inferer: the inferer that tiles or slices the input and calls the network (``SliceInferer``,
            ``SlidingWindowInferer``, :class:`~monai_genmed.inferers.KspaceSliceInferer`, ...); default
            ``SimpleInferer()``.
        channels_last: channels-last inputs and weights (``torch`` paths; 4D and 5D inputs). The network's
            weights are converted in place on its first call, as ``network.to(memory_format=...)`` does: values
            and parameter objects stay the same.
        dtype: autocast dtype, ``"bfloat16"`` or ``"float16"`` (``backend="torch"`` only), or None for float32.
        inference_mode: run under ``torch.inference_mode`` rather than only ``torch.no_grad``.
        backend: ``"torch"``, ``"onnxruntime"`` (needs the ``onnxruntime`` package; CPU, fp32, single-input
            networks) or ``"auto"`` (measure, see above).
        onnx_opset: ONNX opset of the export.
        threads: ONNX Runtime intra-op threads; default ``torch.get_num_threads()``.
        min_agreement_db: ``backend="auto"``: the least PSNR (dB) of a reduced-precision output against the fp32
            output for that path to be used (see above).
        timing_repeats: ``backend="auto"``: timed calls per candidate after its warm-up call.

    Example::

        inferer = AcceleratedInferer(SliceInferer(roi_size=(256, 256), spatial_dim=2, sw_batch_size=8),
                                     backend="auto")
        pred = inferer(volume, generator)  # volume: (1, 1, 256, 256, D)
        print(inferer.choices)  # {AutoSignature(...): {"path": "onnxruntime fp32", "ms": {...}, ...}}
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
        min_agreement_db: float = 67.0,
        timing_repeats: int = 3,
    ) -> None:
        if inferer is not None and not callable(inferer):
            raise TypeError(
                f"inferer must be a MONAI inferer (callable as inferer(inputs, network)), got {type(inferer).__name__}."
            )
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
        self.dtype = _as_dtype(dtype)
        if backend == "onnxruntime":
            if self.dtype is not None:
                raise ValueError(f"backend='onnxruntime' runs float32 only; set dtype=None (got {self.dtype}).")
            if not _has_ort:
                raise ImportError("backend='onnxruntime' needs the onnxruntime package: pip install onnxruntime onnx.")
        if backend == "auto" and self.dtype is not None:
            raise ValueError(
                f"backend='auto' measures whether reduced precision pays on this machine; set dtype=None (got "
                f"{self.dtype}), or backend='torch' to force dtype={str(self.dtype).replace('torch.', '')!r}."
            )
        if (
            isinstance(min_agreement_db, bool)
            or not isinstance(min_agreement_db, (int, float))
            or math.isnan(min_agreement_db)
        ):
            raise ValueError(f"min_agreement_db must be a number of dB (e.g. 67), got {min_agreement_db!r}.")
        if isinstance(timing_repeats, bool) or not isinstance(timing_repeats, int) or timing_repeats < 1:
            raise ValueError(f"timing_repeats must be an integer >= 1 (e.g. 3), got {timing_repeats!r}.")
        self.inferer = SimpleInferer() if inferer is None else inferer
        self.channels_last = channels_last
        self.inference_mode = inference_mode
        self.backend = backend
        self.min_agreement_db = float(min_agreement_db)
        self.timing_repeats = timing_repeats
        self._onnx = (
            _OnnxRuntimeRunner(onnx_opset, threads)
            if backend == "onnxruntime" or (backend == "auto" and _has_ort)
            else None
        )
        self._converted: weakref.WeakSet = weakref.WeakSet()
        # network -> {AutoSignature: decision}; weak, so a decision dies with its network (and no id is reused)
        self._decisions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._decisions_strong: dict[int, tuple[Any, dict]] = {}  # networks that cannot be weakly referenced

    @property
    def choices(self) -> dict[AutoSignature, dict[str, Any]]:
        """``backend="auto"``'s decisions: :class:`AutoSignature` -> ``{"path": ..., "ms": {path: ms per call},
        "agreement_db": {path: PSNR against fp32}, "max_relative_diff": {path: ...}, "rejected": {path: why}}``."""
        merged: dict[AutoSignature, dict[str, Any]] = {}
        for per_network in list(self._decisions.values()) + [d for _, d in self._decisions_strong.values()]:
            merged.update(per_network)
        return merged

    def reset_choices(self) -> None:
        """Forget ``backend="auto"``'s decisions, so that the next calls measure the paths again."""
        self._decisions.clear()
        self._decisions_strong.clear()

    def _network_decisions(self, network: Callable) -> dict[AutoSignature, dict[str, Any]]:
        try:
            return self._decisions.setdefault(network, {})
        except TypeError:  # not weakly referable (rare for a callable): keep it alive with its decisions
            return self._decisions_strong.setdefault(id(network), (network, {}))[1]

    def _prepare_network(self, network: Callable, memory_format: torch.memory_format | None) -> None:
        if memory_format is None or not isinstance(network, torch.nn.Module) or network in self._converted:
            return
        with contextlib.suppress(RuntimeError):  # weights of another rank (a mixed 2D/3D net): leave them
            network.to(memory_format=memory_format)
        self._converted.add(network)

    def _torch_run(
        self, network: Callable, inputs: torch.Tensor, dtype: torch.dtype | None, args: Sequence, kwargs: Mapping
    ) -> Any:
        memory_format = _memory_format(inputs) if self.channels_last else None
        if memory_format is not None:
            self._prepare_network(network, memory_format)
            inputs = inputs.contiguous(memory_format=memory_format)
        with torch.autocast(inputs.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            return network(inputs, *args, **kwargs)

    def _torch_call(self, network: Callable, inputs: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return self._torch_run(network, inputs, self.dtype, args, kwargs)

    def _onnx_run(self, network: Callable, inputs: torch.Tensor, args: Sequence, kwargs: Mapping) -> torch.Tensor:
        if self._onnx is None:
            raise ImportError("the onnxruntime path needs the onnxruntime package: pip install onnxruntime onnx.")
        return self._onnx(network, inputs, *args, **kwargs)

    def _candidates(self, network: Callable, inputs: torch.Tensor, extra: bool) -> dict[str, Callable[..., Any]]:
        """The paths ``backend="auto"`` tries for this call, the fp32 reference first."""
        candidates: dict[str, Callable[..., Any]] = {
            TORCH_FP32: lambda a, k: self._torch_run(network, inputs, None, a, k)
        }
        device = inputs.device.type
        if device == "cpu" and native_bf16():
            candidates[TORCH_BF16] = lambda a, k: self._torch_run(network, inputs, torch.bfloat16, a, k)
        elif device == "cuda":
            candidates[TORCH_FP16] = lambda a, k: self._torch_run(network, inputs, torch.float16, a, k)
        if self._onnx is not None and device == "cpu" and not extra and isinstance(network, torch.nn.Module):
            candidates[ONNX_FP32] = lambda a, k: self._onnx_run(network, inputs, a, k)
        return candidates

    def _measure(self, network: Callable, inputs: torch.Tensor, args: Sequence, kwargs: Mapping,
                 signature: AutoSignature) -> tuple[Any, dict[str, Any]]:  # fmt: skip
        """Time the candidate paths on this batch and keep the fastest that agrees with fp32: its output, decision."""
        candidates = self._candidates(network, inputs, signature.extra_args)
        sync = torch.cuda.synchronize if inputs.device.type == "cuda" else (lambda: None)

        def timed(path: Callable[..., Any]) -> tuple[Any, float]:
            sync()
            start = time.perf_counter()
            out = path(args, kwargs)
            sync()
            return out, (time.perf_counter() - start) * 1000

        outputs: dict[str, Any] = {}
        rejected: dict[str, str] = {}
        if len(candidates) == 1:  # nothing to choose between: this batch's call is the only one
            outputs[TORCH_FP32], ms = timed(candidates[TORCH_FP32])
            return outputs[TORCH_FP32], {"path": TORCH_FP32, "ms": {TORCH_FP32: ms}, "agreement_db": {},
                                         "max_relative_diff": {}, "rejected": rejected}  # fmt: skip
        for name, path in candidates.items():  # warm-up: first-call costs (ONNX export, oneDNN primitives)
            try:
                outputs[name] = path(args, kwargs)
            except Exception as error:  # a path this network does not support; the reference must work
                if name == TORCH_FP32:
                    raise
                rejected[name] = f"failed: {type(error).__name__}: {error}"
        times: dict[str, list[float]] = {name: [] for name in outputs}
        for _ in range(self.timing_repeats):  # interleaved, so that a change of load hits every path alike
            for name in times:
                outputs[name], ms = timed(candidates[name])
                times[name].append(ms)
        decision: dict[str, Any] = {
            "path": TORCH_FP32,
            "ms": {name: min(t) for name, t in times.items()},
            "agreement_db": {},
            "max_relative_diff": {},
            "rejected": rejected,
        }
        for name in times:
            if name == TORCH_FP32:
                continue
            psnr, relative = _agreement(outputs[name], outputs[TORCH_FP32])
            decision["agreement_db"][name], decision["max_relative_diff"][name] = psnr, relative
            if name == ONNX_FP32 and not relative <= FP32_MAX_RELATIVE_DIFF:
                rejected[name] = f"max relative difference to fp32 {relative:.2g} > {FP32_MAX_RELATIVE_DIFF:g}"
            elif name != ONNX_FP32 and not psnr >= self.min_agreement_db:
                rejected[name] = f"agrees with fp32 at {psnr:.1f} dB < min_agreement_db={self.min_agreement_db:g}"
        eligible = [name for name in times if name not in rejected]
        decision["path"] = min(eligible, key=lambda name: decision["ms"][name])
        return outputs[decision["path"]], decision

    def _auto_call(self, network: Callable, inputs: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        signature = AutoSignature(
            network=f"{type(network).__name__}@{id(network):#x}",
            shape=tuple(inputs.shape),
            dtype=str(inputs.dtype).replace("torch.", ""),
            device=inputs.device.type,
            extra_args=bool(args or kwargs),
        )
        decisions = self._network_decisions(network)
        decision = decisions.get(signature)
        if decision is None:
            outputs, decision = self._measure(network, inputs, args, kwargs, signature)
            decisions[signature] = decision
            ms = ", ".join(f"{name} {t:.1f} ms" for name, t in decision["ms"].items())
            agreement = ", ".join(f"{name} {db:.1f} dB" for name, db in decision["agreement_db"].items())
            logger.info(
                "AcceleratedInferer(backend='auto') on %s: %s %s (%s) -> %s [%s%s%s]",
                cpu_summary(), signature.network, signature.shape, signature.dtype, decision["path"], ms,
                f"; agreement with fp32: {agreement}" if agreement else "",
                "".join(f"; {name} left out: {why}" for name, why in decision["rejected"].items()),
            )  # fmt: skip
        elif decision["path"] == ONNX_FP32:
            outputs = self._onnx_run(network, inputs, args, kwargs)
        else:
            dtype = {TORCH_FP32: None, TORCH_BF16: torch.bfloat16, TORCH_FP16: torch.float16}[decision["path"]]
            outputs = self._torch_run(network, inputs, dtype, args, kwargs)
        return _to_float32(outputs)

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``self.inferer(inputs, network, *args, **kwargs)`` with every network call accelerated.

        Args:
            inputs: the model input, e.g. ``(B, C, H, W)`` or a ``(B, C, H, W, D)`` volume for ``SliceInferer``.
            network: the model.
            args, kwargs: passed on to the inner inferer (and from it to the network).

        Returns:
            the inner inferer's output with every floating tensor in float32.
        """
        if self.backend == "auto":

            def call(x: torch.Tensor, *a: Any, **k: Any) -> Any:
                return self._auto_call(network, x, *a, **k)

        elif self.backend == "onnxruntime":
            onnx = self._onnx

            def call(x: torch.Tensor, *a: Any, **k: Any) -> torch.Tensor:
                return onnx(network, x, *a, **k)

        else:

            def call(x: torch.Tensor, *a: Any, **k: Any) -> Any:
                return self._torch_call(network, x, *a, **k)

        with torch.inference_mode() if self.inference_mode else torch.no_grad():
            outputs = self.inferer(inputs, call, *args, **kwargs)
        return _to_plain_float32(outputs)

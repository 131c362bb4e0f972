"""The rows of the reconstruction comparison: one interface that zero filling, the classical and the learned methods
implement, so the comparison scores, times and stores every row the same way."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from monai.inferers import Inferer, SimpleInferer
from tqdm import tqdm

from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.transforms.kspace.functional import data_consistency

__all__ = [
    "ClassicalReconstructor",
    "DataConsistentReconstructor",
    "LearnedMethod",
    "LearnedReconstructor",
    "Reconstructor",
    "UndersampledSlice",
    "ZeroFilledReconstructor",
    "predict",
]

LEARNED_SETTINGS = "trained on the training split; checkpoint by validation NMSE"


class UndersampledSlice(NamedTuple):
    """One test slice as a method sees it: its file name, the measured k-space and its zero-filled image."""

    name: str
    kspace: np.ndarray
    zero_filled: np.ndarray
    noise_sigma: float | None = None


class Reconstructor(ABC):
    """One row of the comparison table.

    Attributes:
        name: the row's method name.
        settings: the row's settings column (a classical method's tuned values).
        tuned_on: what the settings were chosen on.
        real_valued_prior: whether the method assumes a real, non-negative image (None: not applicable).
        reuses_earlier_scores: whether scores an earlier run made with the same settings may stand in for a
            reconstruction (worth it for slow classical methods; zero filling is recomputed to check the data).
    """

    name: str = ""
    settings: str = "-"
    tuned_on: str = "-"
    real_valued_prior: bool | None = None
    reuses_earlier_scores: bool = False

    @abstractmethod
    def reconstruct(self, slices: Sequence[UndersampledSlice], mask: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """The reconstruction of each slice and the seconds it took (per slice)."""


class ZeroFilledReconstructor(Reconstructor):
    """The inverse FFT of the measured k-space: the floor every method must beat."""

    name = "zero-filled"

    def reconstruct(self, slices: Sequence[UndersampledSlice], mask: np.ndarray) -> list[tuple[np.ndarray, float]]:
        out = []
        for s in slices:
            start = time.perf_counter()
            out.append((s.zero_filled, time.perf_counter() - start))
        return out


class ClassicalReconstructor(Reconstructor):
    """A tuned classical baseline (``monai_genmed.apps.baselines``), slice by slice, told each slice's noise level.

    Args:
        name: the row's name (``"TV-CS (SigPy TotalVariationRecon)"``).
        baseline: the tuned baseline, ``baseline(kspace, mask, noise_sigma)``, with its settings in ``params``.
        tuned_on: what it was tuned on (said in the table).
    """

    reuses_earlier_scores = True

    def __init__(self, name: str, baseline: Callable[..., np.ndarray], tuned_on: str) -> None:
        self.name, self.baseline, self.tuned_on = name, baseline, tuned_on
        params = getattr(baseline, "params", {})
        self.settings = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        self.real_valued_prior = "real_valued=True" in self.settings

    def reconstruct(self, slices: Sequence[UndersampledSlice], mask: np.ndarray) -> list[tuple[np.ndarray, float]]:
        out = []
        for s in tqdm(slices, desc=self.name, unit="slice"):
            start = time.perf_counter()
            recon = self.baseline(s.kspace, mask, s.noise_sigma)
            out.append((recon, time.perf_counter() - start))
        return out


class LearnedMethod:
    """One learned row of the table, from a config entry.

    Args:
        name: the row's name (``"DAGAN"``); the checkpoint's file name is added to it.
        network: the network (a bundle's ``network_def``); its weights are loaded from ``checkpoint`` before it is
            scored, so two methods may share one network object.
        checkpoint: a state dict, or MONAI's nested checkpoint with the weights under ``"model"``, trained for
            the setting's mask (its stored ``mask_type``/``sampling_fraction`` are checked).
        real_valued_prior: whether the method assumes a real, non-negative image (said in the table).
        extra_keys: the inputs the network takes beside the zero-filled image, by keyword: ``"kspace_masked"``
            (the measured k-space, complex) and ``"mask"`` (``(B, 1, H, W)``), as for a network with data
            consistency inside (:class:`monai_genmed.networks.nets.DataConsistentCascade`).
        data_consistency: also score the network's output with the measured k-space put back (a "+ data
            consistency" row).
        mask_type, sampling_fraction: score only in this setting (default: every setting).
    """

    def __init__(
        self,
        name: str,
        network: torch.nn.Module,
        checkpoint: str,
        real_valued_prior: bool = True,
        extra_keys: Sequence[str] = (),
        data_consistency: bool = False,
        mask_type: str | None = None,
        sampling_fraction: float | None = None,
    ) -> None:
        if not isinstance(network, torch.nn.Module):
            raise TypeError(
                f"learned method {name!r}: network must be a torch module (a network_def), got {type(network)}."
            )
        unknown = set(extra_keys) - {"kspace_masked", "mask"}
        if unknown:
            raise ValueError(
                f"learned method {name!r}: unknown extra_keys {sorted(unknown)}; use 'kspace_masked', 'mask'."
            )
        self.name, self.network, self.checkpoint = name, network, str(checkpoint)
        self.real_valued_prior, self.extra_keys, self.data_consistency = (
            bool(real_valued_prior),
            tuple(extra_keys),
            data_consistency,
        )
        self.mask_type, self.sampling_fraction = mask_type, sampling_fraction

    def applies_to(self, setting: Mapping[str, Any]) -> bool:
        return all(v is None or v == setting[k] for k, v in (("mask_type", self.mask_type),
                                                            ("sampling_fraction", self.sampling_fraction)))  # fmt: skip

    def reconstructors(
        self, setting: Mapping[str, Any], device: torch.device, inferer: Inferer | None = None, batch_size: int = 8
    ) -> list[Reconstructor]:
        """The rows of this method in ``setting`` (its checkpoint loaded and checked): the network's output, and
        with ``data_consistency`` the same output with the measured k-space put back."""
        ckpt = self.checkpoint
        if not os.path.isfile(ckpt):
            raise FileNotFoundError(
                f"checkpoint {ckpt!r} of learned method {self.name!r} for {dict(setting)} does not exist; train it "
                "(see the bundle's docs) or drop it from learned_methods."
            )
        stored = load_model_weights(self.network, ckpt, map_location=device, name="checkpoint")
        trained_for = {k: stored.get(k) for k in ("mask_type", "sampling_fraction") if k in stored} if stored else {}
        if trained_for and any(trained_for[k] != setting.get(k) for k in trained_for):
            raise ValueError(
                f"checkpoint {ckpt!r} of {self.name!r} was trained for {trained_for}, but the evaluation setting asks "
                f"{ {k: setting.get(k) for k in trained_for} }; give the method mask_type and sampling_fraction, "
                "paired with the model trained for them."
            )
        self.network.to(device).eval()
        plain = LearnedReconstructor(self, device, inferer, batch_size)
        return [plain, DataConsistentReconstructor(plain)] if self.data_consistency else [plain]


def predict(
    method: LearnedMethod,
    inputs: Sequence[tuple[np.ndarray, np.ndarray]],
    mask: np.ndarray,
    device: torch.device,
    inferer: Inferer | None = None,
    batch_size: int = 8,
) -> np.ndarray:
    """The network's reconstructions of ``inputs`` (``(kspace_masked, zero_filled)`` pairs), batched, in float32."""
    inferer = inferer or SimpleInferer()
    preds = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            chunk = inputs[i : i + batch_size]
            batch = torch.from_numpy(np.stack([zf for _, zf in chunk])[:, None]).to(device)
            if not method.extra_keys:
                preds.append(inferer(batch, method.network).float().cpu().numpy()[:, 0])
                continue
            extra = {
                "kspace_masked": torch.from_numpy(np.stack([k for k, _ in chunk])[:, None]).to(device),
                "mask": torch.from_numpy(mask)[None, None].expand(len(chunk), 1, *mask.shape).to(device),
            }
            out = method.network(batch, **{k: extra[k] for k in method.extra_keys})  # fmt: skip
            preds.append(out.float().cpu().numpy()[:, 0])
    return np.concatenate(preds)


class LearnedReconstructor(Reconstructor):
    """A learned method's network on all slices in batches; the time per slice is the batched network time."""

    settings = LEARNED_SETTINGS
    tuned_on = "training/validation"

    def __init__(self, method: LearnedMethod, device: torch.device, inferer: Inferer | None, batch_size: int) -> None:
        self.method, self.device, self.inferer, self.batch_size = method, device, inferer, batch_size
        self.name = f"{method.name} ({os.path.basename(method.checkpoint)})"
        self.real_valued_prior = method.real_valued_prior
        self.last: tuple[list[str], np.ndarray, float] | None = None  # (slice names, predictions, s per slice)

    def reconstruct(self, slices: Sequence[UndersampledSlice], mask: np.ndarray) -> list[tuple[np.ndarray, float]]:
        start = time.perf_counter()
        pred = predict(
            self.method, [(s.kspace, s.zero_filled) for s in slices], mask, self.device, self.inferer, self.batch_size
        )
        per_slice_s = (time.perf_counter() - start) / len(slices)
        self.last = ([s.name for s in slices], pred, per_slice_s)
        return [(p, per_slice_s) for p in pred]


class DataConsistentReconstructor(Reconstructor):
    """A learned method's output with the measured k-space put back (its "+ data consistency" row); reuses the
    predictions the plain row just made of the same slices, and adds the data-consistency time to theirs."""

    settings = LEARNED_SETTINGS
    tuned_on = "training/validation"

    def __init__(self, learned: LearnedReconstructor) -> None:
        self.learned = learned
        method = learned.method
        self.name = f"{method.name} + data consistency ({os.path.basename(method.checkpoint)})"
        self.real_valued_prior = method.real_valued_prior

    def reconstruct(self, slices: Sequence[UndersampledSlice], mask: np.ndarray) -> list[tuple[np.ndarray, float]]:
        if self.learned.last is None or self.learned.last[0] != [s.name for s in slices]:
            self.learned.reconstruct(slices, mask)
        _, pred, per_slice_s = self.learned.last  # type: ignore[misc]
        start = time.perf_counter()
        dc = [np.asarray(data_consistency(p[None], s.kspace[None], mask))[0] for p, s in zip(pred, slices)]
        dc_s = per_slice_s + (time.perf_counter() - start) / len(slices)
        return [(r, dc_s) for r in dc]

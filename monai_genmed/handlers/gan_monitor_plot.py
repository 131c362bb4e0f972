"""The PNG of :class:`~monai_genmed.handlers.GANMonitor`'s curves (matplotlib's Agg renderer: no display needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["plot_gan_curves"]


def _finite(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_gan_curves(
    history: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path, mode: str = "", tolerance: float = 0.05
) -> str:
    """Plot D's accuracy (with the 50 % band of the stop criterion), D(x) and D(G(z)), the generator's gradient
    norm, and the epoch FD and diversity (beside the real images' diversity), in four panels.

    Args:
        history: ``GANMonitor.history``: ``{"iteration": {"iteration": [...], key: [...]}, "epoch": {...}}``.
        path: PNG file to write (folders are made).
        mode: the GAN objective, for the D-output panel's title.
        tolerance: half-width of the band around 50 % to shade.

    Returns:
        The path written.
    """
    # a bare Figure renders with Agg and leaves pyplot's backend (a notebook's, say) alone
    from matplotlib.figure import Figure

    it = history.get("iteration", {})
    ep = history.get("epoch", {})
    steps = it.get("iteration", [])
    fig = Figure(figsize=(11, 7))
    axes = fig.subplots(2, 2)
    ax = axes[0, 0]
    ax.axhspan(0.5 - tolerance, 0.5 + tolerance, color="0.9", label=f"50 % +/- {tolerance:.0%}")
    for key, label in (("gan_d_accuracy", "mean"), ("gan_d_accuracy_real", "real"), ("gan_d_accuracy_fake", "fake")):
        ax.plot(*_finite(steps, it.get(key, [])), label=label)
    ax.set(title="discriminator accuracy", xlabel="iteration", ylim=(-0.02, 1.02))
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ax.plot(*_finite(steps, it.get("gan_d_real", [])), label="D(x)")
    ax.plot(*_finite(steps, it.get("gan_d_fake", [])), label="D(G(z))")
    ax.set(title=f"discriminator outputs ({mode})" if mode else "discriminator outputs", xlabel="iteration")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    xs, ys = _finite(steps, it.get("gan_g_grad_norm", []))
    ax.plot(xs, ys)
    if ys and min(ys) > 0:
        ax.set_yscale("log")
    ax.set(title="generator gradient norm", xlabel="iteration")
    ax = axes[1, 1]
    epochs = ep.get("epoch", [])
    xs, ys = _finite(epochs, ep.get("gan_fd", []))
    if ys:
        ax.plot(xs, ys, "o-", color="C3", label="FD")
        ax.set_ylabel("FD")
    twin = ax.twinx()
    twin.plot(*_finite(epochs, ep.get("gan_diversity", [])), "s-", color="C0", label="MS-SSIM, generated")
    twin.plot(*_finite(epochs, ep.get("gan_diversity_real", [])), "--", color="C2", label="MS-SSIM, real")
    twin.set_ylabel("mean MS-SSIM of pairs (lower: more diverse)")
    ax.set(title="FD and diversity per epoch", xlabel="epoch")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return str(path)

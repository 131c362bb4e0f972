"""Ignite handlers for the metrics of :py:mod:`monai_genmed.metrics`, for ``key_val_metric``/``additional_metrics``.

Like MONAI's own metric handlers (:py:class:`monai.handlers.PeakSignalToNoiseRatio`), each wraps a cumulative
metric, records its aggregate in ``engine.state.metrics[name]`` and the per-sample values in
``engine.state.metric_details[name]``.

The masked handlers also need the mask of each sample. Either the ``output_transform`` returns it as a third item,
``(y_pred, y, mask)``, or ``mask_key`` names it in ``engine.state.batch``: MONAI's ``SupervisedEvaluator`` keeps
only image, label and prediction in ``engine.state.output``, while the batch still holds every key the data
transforms produced. In a bundle config::

    "key_val_metric": {
        "val_psnr": {
            "_target_": "monai_genmed.handlers.MaskedPSNR",
            "data_range": 1.0,
            "mask_key": "brain_mask",
            "output_transform": "$monai.handlers.from_engine(['pred', 'label'])"
        }
    }

Take the mask from the batch only when the prediction is in the same space as the batch (no inverted spatial
postprocessing); otherwise carry the mask through the postprocessing and return it from ``output_transform``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine
from ignite.metrics.metric import reinit__is_reduced
from monai.handlers import IgniteMetricHandler
from monai.metrics import CumulativeIterationMetric
from monai.metrics.regression import KernelType
from monai.utils import MetricReduction

from monai_genmed.metrics import (
    HounsfieldMAEMetric,
    MaskedPSNRMetric,
    MaskedSSIMMetric,
    NMSEMetric,
    SynthRADPSNRMetric,
    SynthRADSSIMMetric,
)

__all__ = ["NMSE", "MaskedMetricHandler", "MaskedPSNR", "MaskedSSIM", "HounsfieldMAE", "SynthRADPSNR", "SynthRADSSIM"]


def _identity(output: Any) -> Any:
    return output


class NMSE(IgniteMetricHandler):
    """Normalised mean squared error, averaged over the epoch; see :py:class:`~monai_genmed.metrics.NMSEMetric`.

    ``squared=True`` is fastMRI's ``||y_pred - y||^2 / ||y||^2`` (`Zbontar et al. 2018
    <https://arxiv.org/abs/1811.08839>`_); ``squared=False`` is the ``||y_pred - y|| / ||y||`` that DAGAN's
    released code reports (`Yang et al. 2018 <https://doi.org/10.1109/TMI.2017.2785879>`_). Lower is better: as
    an evaluator's ``key_val_metric``, give the evaluator ``metric_cmp_fn=lambda current, best: current < best``.

    Args:
        squared: the squared (fastMRI) or unsquared (DAGAN) ratio.
        reduction: how the per-sample values are reduced, a :py:class:`monai.utils.MetricReduction`.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)``, e.g.
            ``monai.handlers.from_engine(["pred", "label"])``.
        save_details: whether to keep the per-sample values in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        squared: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        save_details: bool = True,
    ) -> None:
        metric_fn = NMSEMetric(squared=squared, reduction=reduction)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)


class MaskedMetricHandler(IgniteMetricHandler):
    """An :py:class:`monai.handlers.IgniteMetricHandler` whose metric also takes a mask of each sample.

    The mask comes as the third item of ``output_transform``'s result, or from ``engine.state.batch[mask_key]``
    (a batch-first tensor, or a list of channel-first tensors when the evaluator decollates the batch). With
    neither, every voxel counts.

    Args:
        metric_fn: a cumulative metric called as ``metric_fn(y_pred, y, mask=mask)``, e.g.
            :py:class:`~monai_genmed.metrics.MaskedPSNRMetric`.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)`` or ``(y_pred, y, mask)``.
        mask_key: the key of the mask in ``engine.state.batch``, or ``None``.
        save_details: whether to keep the per-sample values in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        metric_fn: CumulativeIterationMetric,
        output_transform: Callable = _identity,
        mask_key: str | None = None,
        save_details: bool = True,
    ) -> None:
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
        self.mask_key = mask_key

    @torch.no_grad()
    def iteration_completed(self, engine: Engine) -> None:
        """Compute the metric on this iteration's output and, when ``mask_key`` is set, the batch's mask.

        Ignite's default unpacks a list-of-samples output into pairs and so would drop the mask; this passes the
        output to :py:meth:`update` whole.
        """
        output = self._output_transform(engine.state.output)
        if isinstance(output, Mapping) or not isinstance(output, Sequence):
            raise TypeError(
                f"{self.__class__.__name__} needs output_transform to return (y_pred, y) or (y_pred, y, mask), "
                f"got {type(output).__name__}; e.g. output_transform=monai.handlers.from_engine(['pred', 'label'])."
            )
        if self.mask_key is not None:
            if len(output) != 2:
                raise ValueError(
                    f"mask_key={self.mask_key!r} adds the mask itself, so output_transform must return "
                    f"(y_pred, y), got {len(output)} items."
                )
            output = (*output, self._mask_from_batch(engine.state.batch))
        self.update(output)

    def _mask_from_batch(self, batch: Any) -> Any:
        if isinstance(batch, Mapping) and self.mask_key in batch:
            return batch[self.mask_key]
        if isinstance(batch, Sequence) and all(isinstance(item, Mapping) and self.mask_key in item for item in batch):
            return [item[self.mask_key] for item in batch]
        raise KeyError(
            f"mask_key={self.mask_key!r} is not in engine.state.batch; add the mask to the data dictionaries "
            "or return it from output_transform as (y_pred, y, mask)."
        )

    @reinit__is_reduced
    def update(self, output: Sequence[Any]) -> None:
        """Add the metric of one iteration.

        Args:
            output: ``(y_pred, y)`` or ``(y_pred, y, mask)``, each a batch-first tensor or a list of channel-first
                tensors.

        Raises:
            ValueError: when ``output`` has neither 2 nor 3 items.
        """
        if len(output) not in (2, 3):
            raise ValueError(f"output must be (y_pred, y) or (y_pred, y, mask), got {len(output)} items.")
        y_pred, y, *mask = output
        self.metric_fn(y_pred, y, mask=mask[0] if mask else None)


class MaskedPSNR(MaskedMetricHandler):
    """PSNR inside a mask (e.g. a head mask), averaged over the epoch.

    See :py:class:`~monai_genmed.metrics.MaskedPSNRMetric`.

    Args:
        data_range: the span of intensities the images may take, e.g. ``1.0`` for images in ``[0, 1]``.
        reduction: how the per-sample values are reduced, a :py:class:`monai.utils.MetricReduction`.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)`` or ``(y_pred, y, mask)``.
        mask_key: the key of the mask in ``engine.state.batch``, or ``None``.
        save_details: whether to keep the per-sample values in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        data_range: float,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        mask_key: str | None = None,
        save_details: bool = True,
    ) -> None:
        metric_fn = MaskedPSNRMetric(data_range=data_range, reduction=reduction)
        super().__init__(metric_fn, output_transform=output_transform, mask_key=mask_key, save_details=save_details)


class MaskedSSIM(MaskedMetricHandler):
    """SSIM inside a mask, averaged over the epoch; see :py:class:`~monai_genmed.metrics.MaskedSSIMMetric`.

    Defaults are MONAI's and skimage's Gaussian SSIM: window 11, sigma 1.5, k1 0.01, k2 0.03.

    Args:
        spatial_dims: 2 or 3.
        data_range: the span of intensities the images may take, e.g. ``1.0`` for images in ``[0, 1]``.
        kernel_type: ``"gaussian"`` or ``"uniform"`` window.
        win_size: window size, odd, per spatial axis or one for all.
        kernel_sigma: standard deviation of the Gaussian window.
        k1: luminance stability constant.
        k2: contrast stability constant.
        use_sample_covariance: unbiased (``N - 1``) variances, as skimage's default SSIM.
        reduction: how the per-sample values are reduced, a :py:class:`monai.utils.MetricReduction`.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)`` or ``(y_pred, y, mask)``.
        mask_key: the key of the mask in ``engine.state.batch``, or ``None``.
        save_details: whether to keep the per-sample values in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        spatial_dims: int,
        data_range: float,
        kernel_type: KernelType | str = KernelType.GAUSSIAN,
        win_size: int | Sequence[int] = 11,
        kernel_sigma: float | Sequence[float] = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        use_sample_covariance: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        mask_key: str | None = None,
        save_details: bool = True,
    ) -> None:
        metric_fn = MaskedSSIMMetric(
            spatial_dims=spatial_dims,
            data_range=data_range,
            kernel_type=kernel_type,
            win_size=win_size,
            kernel_sigma=kernel_sigma,
            k1=k1,
            k2=k2,
            use_sample_covariance=use_sample_covariance,
            reduction=reduction,
        )
        super().__init__(metric_fn, output_transform=output_transform, mask_key=mask_key, save_details=save_details)


class _BodyMaskHandler(MaskedMetricHandler):
    """A handler for a synthetic-CT metric whose only setting is the reduction; subclasses name the metric class.

    Args:
        reduction: how the per-sample values are reduced, a :py:class:`monai.utils.MetricReduction`.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)`` or ``(y_pred, y, mask)``, images in HU.
        mask_key: the key of the body mask in ``engine.state.batch``, or ``None``.
        save_details: whether to keep the per-sample values in ``engine.state.metric_details``.
    """

    metric_class: type[CumulativeIterationMetric]

    def __init__(
        self,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        mask_key: str | None = None,
        save_details: bool = True,
    ) -> None:
        metric_fn = self.metric_class(reduction=reduction)  # type: ignore[call-arg]
        super().__init__(metric_fn, output_transform=output_transform, mask_key=mask_key, save_details=save_details)


class HounsfieldMAE(_BodyMaskHandler):
    """MAE in HU inside a body mask, as SynthRAD2023 scores synthetic CT. Lower is better (see :py:class:`NMSE`).

    SynthRAD2023: `Huijben et al. 2024 <https://doi.org/10.1016/j.media.2024.103276>`_.

    See :py:class:`~monai_genmed.metrics.HounsfieldMAEMetric`; arguments: ``reduction``, ``output_transform``,
    ``mask_key``, ``save_details`` as in :py:class:`MaskedPSNR`.
    """

    metric_class = HounsfieldMAEMetric


class SynthRADPSNR(_BodyMaskHandler):
    """SynthRAD2023's PSNR: clip to ``[-1024, 3000]`` HU, data range 4024, MSE inside the body mask.

    SynthRAD2023: `Huijben et al. 2024 <https://doi.org/10.1016/j.media.2024.103276>`_.

    See :py:class:`~monai_genmed.metrics.SynthRADPSNRMetric`; arguments: ``reduction``, ``output_transform``,
    ``mask_key``, ``save_details`` as in :py:class:`MaskedPSNR`.
    """

    metric_class = SynthRADPSNRMetric


class SynthRADSSIM(MaskedMetricHandler):
    """SynthRAD2023's SSIM in the body mask; see :py:class:`~monai_genmed.metrics.SynthRADSSIMMetric`.

    Clip to ``[-1024, 3000]`` HU, set voxels outside the mask to -1024 HU, shift by +1024 HU, skimage's default
    SSIM (7-voxel uniform window, sample covariance) with data range 4024, averaged over the mask
    (`Huijben et al. 2024 <https://doi.org/10.1016/j.media.2024.103276>`_).

    Args:
        spatial_dims: 3 for volumes (SynthRAD2023's 7x7x7 window) or 2 for slices.
        reduction: how the per-sample values are reduced, a :py:class:`monai.utils.MetricReduction`.
        output_transform: maps ``engine.state.output`` to ``(y_pred, y)`` or ``(y_pred, y, mask)``, images in HU.
        mask_key: the key of the body mask in ``engine.state.batch``, or ``None``.
        save_details: whether to keep the per-sample values in ``engine.state.metric_details``.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        output_transform: Callable = _identity,
        mask_key: str | None = None,
        save_details: bool = True,
    ) -> None:
        metric_fn = SynthRADSSIMMetric(spatial_dims=spatial_dims, reduction=reduction)
        super().__init__(metric_fn, output_transform=output_transform, mask_key=mask_key, save_details=save_details)

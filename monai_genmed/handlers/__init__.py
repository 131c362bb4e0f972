from __future__ import annotations

from .checkpoint import AtomicDiskSaver, BestModelSaver, TrainingCheckpointer
from .early_stop import ResumableEarlyStopHandler
from .image_grid import ImageGridSaver, make_image_grid
from .metrics import NMSE, HounsfieldMAE, MaskedMetricHandler, MaskedPSNR, MaskedSSIM, SynthRADPSNR, SynthRADSSIM
from .metrics_csv import MetricsCSVWriter
from .progress import ProgressBar

__all__ = [
    "AtomicDiskSaver",
    "BestModelSaver",
    "TrainingCheckpointer",
    "ResumableEarlyStopHandler",
    "ImageGridSaver",
    "make_image_grid",
    "MetricsCSVWriter",
    "ProgressBar",
    "NMSE",
    "HounsfieldMAE",
    "MaskedMetricHandler",
    "MaskedPSNR",
    "MaskedSSIM",
    "SynthRADPSNR",
    "SynthRADSSIM",
]

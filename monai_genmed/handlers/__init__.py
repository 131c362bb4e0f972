from __future__ import annotations

from .checkpoint import AtomicDiskSaver, BestModelSaver, TrainingCheckpointer
from .distributed import GradientAllReduce
from .divergence import DivergenceGuard, TrainingDivergedError, TrivialBaseline
from .early_stop import ResumableEarlyStopHandler
from .epoch import SetEpochHandler
from .image_grid import ImageGridSaver, make_image_grid
from .metrics import NMSE, HounsfieldMAE, MaskedMetricHandler, MaskedPSNR, MaskedSSIM, SynthRADPSNR, SynthRADSSIM
from .metrics_csv import MetricsCSVWriter
from .model_loader import ModelWeightsLoader, load_model_weights
from .progress import ProgressBar
from .run_state import RandomState, RunFingerprint, collect_random_generators, fingerprint_differences

__all__ = [
    "AtomicDiskSaver",
    "BestModelSaver",
    "TrainingCheckpointer",
    "ResumableEarlyStopHandler",
    "SetEpochHandler",
    "DivergenceGuard",
    "GradientAllReduce",
    "TrainingDivergedError",
    "TrivialBaseline",
    "ModelWeightsLoader",
    "load_model_weights",
    "RandomState",
    "RunFingerprint",
    "collect_random_generators",
    "fingerprint_differences",
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

from .gan_monitor import GANMonitor, GANMonitorKeys, discriminator_logits
from .gan_monitor_plot import plot_gan_curves

__all__ += ["GANMonitor", "GANMonitorKeys", "discriminator_logits", "plot_gan_curves"]

from .weight_clipping import WeightClipping

__all__ += ["WeightClipping"]

from .latent_figures import (
    LatentFigures,
    SampleGridSaver,
    encode_images,
    fit_gaussian,
    image_grid,
    latent_pca,
    save_image_grid,
)

__all__ += [
    "LatentFigures",
    "SampleGridSaver",
    "encode_images",
    "fit_gaussian",
    "image_grid",
    "latent_pca",
    "save_image_grid",
]

from .frechet_distance import DiversityGapHandler, FrechetDistanceHandler

__all__ += ["DiversityGapHandler", "FrechetDistanceHandler"]

from __future__ import annotations

from .dagan import DAGANDiscriminator, DAGANGenerator
from .patchgan import patchgan_70
from .resnet_generator import ResNetGenerator, cyclegan_init
from .vgg import VGG16_LAYER_NAMES, VGG16FeatureExtractor

__all__ = [
    "DAGANDiscriminator",
    "DAGANGenerator",
    "ResNetGenerator",
    "VGG16FeatureExtractor",
    "VGG16_LAYER_NAMES",
    "cyclegan_init",
    "patchgan_70",
]

from .brain_encoder import BRAIN_ENCODER_64_WEIGHTS, BrainSliceEncoder, load_brain_encoder

__all__ += ["BrainSliceEncoder", "BRAIN_ENCODER_64_WEIGHTS", "load_brain_encoder"]

from .conv_autoencoder import ConvAutoEncoder, VarAutoEncoderReconstructor
from .dcgan import DCGANDiscriminator, DCGANGenerator

__all__ += ["ConvAutoEncoder", "VarAutoEncoderReconstructor", "DCGANDiscriminator", "DCGANGenerator"]

from .cascade import CascadeCNNBlock, DAGANCascade, DataConsistentCascade, UnrolledDataConsistencyNet

__all__ += ["CascadeCNNBlock", "DAGANCascade", "DataConsistentCascade", "UnrolledDataConsistencyNet"]

from .flip_ensemble import FlipEnsemble, FlipSpread, flip_kspace

__all__ += ["FlipEnsemble", "FlipSpread", "flip_kspace"]

from .diffusion import DiffusionSampler, TracedDenoiser

__all__ += ["DiffusionSampler", "TracedDenoiser"]

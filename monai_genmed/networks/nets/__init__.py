from __future__ import annotations

from .dagan import DAGANDiscriminator, DAGANGenerator
from .vgg import VGG16_LAYER_NAMES, VGG16FeatureExtractor

__all__ = ["DAGANDiscriminator", "DAGANGenerator", "VGG16FeatureExtractor", "VGG16_LAYER_NAMES"]

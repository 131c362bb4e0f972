"""monai_genmed: deep generative models for medical imaging, as a MONAI plugin.

The package mirrors MONAI's own tree (``transforms``, ``metrics``, ``networks``, ``losses``, ``optimizers``,
``engines``, ``handlers``, ``data``, ``apps``) so that a MONAI user finds every component where MONAI keeps
its own.
Importing it loads every subpackage, as ``import monai`` does, so that bundle configs can reach
``monai_genmed.<subpackage>.<name>`` after a single ``import monai_genmed``.
"""

from __future__ import annotations

__version__ = "0.1.0"

# the layers in order, the ground layer first, as CONTRIBUTING.md lists them: not sorted
# isort: off
from . import utils
from . import metrics, transforms
from . import data, losses, networks, optimizers
from . import engines, handlers, inferers
from . import apps
# isort: on

__all__ = [
    "__version__",
    "apps",
    "data",
    "engines",
    "handlers",
    "inferers",
    "losses",
    "metrics",
    "networks",
    "optimizers",
    "transforms",
    "utils",
]

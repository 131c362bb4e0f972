"""monai_genmed: deep generative models for medical imaging, as a MONAI plugin.

The package mirrors MONAI's own tree (``transforms``, ``metrics``, ``networks``, ``losses``, ``engines``,
``handlers``, ``data``, ``apps``) so that a MONAI user finds every component where MONAI keeps its own.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

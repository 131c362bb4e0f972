"""MONAI Label infer tasks that serve this package's bundles: MR -> synthetic CT, CS-MRI reconstruction
and samples of the generative bundles.

Importing this subpackage imports ``monailabel`` (lazily, through ``monai.utils.optional_import``); importing
``monai_genmed`` or ``monai_genmed.apps`` never does. MONAI Label needs numpy<2 and pydicom 2.4.4, so it lives in
its own environment: ``bash .ci/install_monailabel`` makes ``.venv-label``. The sample app is
``apps/monailabel_genmed`` at the repository root.
"""

from __future__ import annotations

from .tasks import BundleImageTask, GenerativeSampleTask, ReconstructionTask, SyntheticCTTask, check_mr_volume

__all__ = ["BundleImageTask", "GenerativeSampleTask", "ReconstructionTask", "SyntheticCTTask", "check_mr_volume"]

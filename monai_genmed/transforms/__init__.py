from __future__ import annotations

from .intensity import *  # noqa: F401,F403
from .intensity import __all__ as _intensity_all
from .io import *  # noqa: F401,F403
from .io import __all__ as _io_all
from .kspace import *  # noqa: F401,F403
from .kspace import __all__ as _kspace_all

__all__ = list(_kspace_all) + list(_intensity_all) + list(_io_all)

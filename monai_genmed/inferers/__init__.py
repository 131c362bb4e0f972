from __future__ import annotations

from .accelerated import AcceleratedInferer

__all__ = ["AcceleratedInferer"]

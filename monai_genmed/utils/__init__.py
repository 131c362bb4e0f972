from __future__ import annotations

from .enums import GenerativeKeys, KspaceKeys

__all__ = ["GenerativeKeys", "KspaceKeys"]

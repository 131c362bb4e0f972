from __future__ import annotations

from .cpu import cpu_flags, cpu_summary, fast_autocast, native_bf16
from .enums import GenerativeKeys, KspaceKeys
from .flags import ensure_bool

__all__ = ["GenerativeKeys", "KspaceKeys", "cpu_flags", "cpu_summary", "ensure_bool", "fast_autocast", "native_bf16"]

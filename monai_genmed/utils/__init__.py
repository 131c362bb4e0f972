from __future__ import annotations

from .cpu import cpu_flags, cpu_summary, fast_autocast, native_bf16
from .enums import GenerativeKeys, KspaceKeys
from .flags import ensure_bool, ensure_in_range
from .io import atomic_path, write_csv_atomic, write_json_atomic

__all__ = [
    "GenerativeKeys", "KspaceKeys", "atomic_path", "cpu_flags", "cpu_summary", "ensure_bool", "ensure_in_range", "fast_autocast", "native_bf16",
    "write_csv_atomic", "write_json_atomic",
]  # fmt: skip

from __future__ import annotations

from .cpu import cpu_flags, cpu_summary, fast_autocast, native_bf16
from .enums import GenerativeKeys, KspaceKeys
from .flags import ensure_bool
from .io import atomic_path, check_output_dir, write_csv_atomic, write_json_atomic
from .settings import SettingRule, check_setting, check_settings

__all__ = [
    "GenerativeKeys", "KspaceKeys", "SettingRule", "atomic_path", "check_output_dir", "check_setting", "check_settings",
    "cpu_flags", "cpu_summary", "ensure_bool", "fast_autocast", "native_bf16", "write_csv_atomic", "write_json_atomic",
]  # fmt: skip

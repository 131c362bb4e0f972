from __future__ import annotations

from .components import enabled
from .cpu import cpu_flags, cpu_summary, fast_autocast, native_bf16
from .distributed import end_process_group, is_main_process, process_rank
from .enums import GenerativeKeys, KspaceKeys
from .flags import ensure_bool, ensure_in_range
from .io import (
    FolderLock,
    FolderLockedError,
    atomic_path,
    check_output_dir,
    check_output_dirs,
    fsync_folder,
    remove_stale_temporaries,
    write_csv_atomic,
    write_json_atomic,
)
from .settings import SettingRule, check_setting, check_settings

__all__ = [
    "FolderLock",
    "FolderLockedError",
    "GenerativeKeys",
    "KspaceKeys",
    "SettingRule",
    "atomic_path",
    "check_output_dir",
    "check_output_dirs",
    "check_setting",
    "check_settings",
    "cpu_flags",
    "cpu_summary",
    "enabled",
    "end_process_group",
    "ensure_bool",
    "ensure_in_range",
    "fast_autocast",
    "fsync_folder",
    "is_main_process",
    "native_bf16",
    "process_rank",
    "remove_stale_temporaries",
    "write_csv_atomic",
    "write_json_atomic",
]

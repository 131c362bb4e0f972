from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def verify_and_export():
    """``verify_metadata``, ``verify_net_in_out`` and ``ckpt_export`` of a bundle's ``network_def``, as MONAI's model
    zoo runs them in CI; returns the TorchScript module exported from ``ckpt``."""
    import torch
    from monai.bundle import ckpt_export, verify_metadata, verify_net_in_out

    def check(meta: Path, config_file: list[str], ckpt: Path, export_dir: Path, **overrides):
        verify_metadata(meta_file=str(meta), filepath=str(REPO / "configs" / "bundle" / "meta_schema_20240725.json"))
        verify_net_in_out(net_id="network_def", meta_file=str(meta), config_file=config_file, device="cpu", **overrides)
        exported = export_dir / "model.ts"
        ckpt_export(net_id="network_def", filepath=str(exported), ckpt_file=str(ckpt), meta_file=str(meta),
                    config_file=config_file, key_in_ckpt="model", **overrides)  # fmt: skip
        return torch.jit.load(str(exported))

    return check

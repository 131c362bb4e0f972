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


# TorchScript against eager, float32 on CPU: the scripted graph may fuse or reorder operations, so outputs of order
# one agree to float32 rounding, not bit for bit
EXPORT_RTOL = 1e-5
EXPORT_ATOL = 1e-5


@pytest.fixture(scope="session")
def assert_export_matches_eager():
    """Check that a TorchScript module from ``ckpt_export`` computes what the bundle's own ``network_def`` computes in
    eager mode with the same checkpoint (its ``"model"`` key), on ``inputs``, within EXPORT_RTOL / EXPORT_ATOL.
    ``module`` names the submodule of ``network_def`` that was exported (ddpm_mri: ``"network"``, the U-Net of its
    sampler); ``""`` is the whole network."""
    import torch
    from monai.bundle import ConfigParser

    def check(scripted, config_file: list[str], ckpt: Path, *inputs, module: str = "", **overrides):
        parser = ConfigParser()
        parser.read_config(config_file)
        parser.update(overrides)
        network = parser.get_parsed_content("network_def")
        saved = torch.load(str(ckpt), map_location="cpu", weights_only=True)
        network.load_state_dict(saved.get("model", saved))
        network = network.get_submodule(module).eval()
        with torch.no_grad():
            eager, exported = network(*inputs), scripted(*inputs)
        assert type(exported) is type(eager)
        pairs = [(eager, exported)] if isinstance(eager, torch.Tensor) else list(zip(eager, exported))
        for e, s in pairs:
            torch.testing.assert_close(s, e, rtol=EXPORT_RTOL, atol=EXPORT_ATOL)
        return exported

    return check


def csmri_configs(bundle: Path, *names: str) -> list[str]:
    """A CS-MRI bundle's layered config files, as its README lists them: the shared layer (``configs/csmri.json``,
    then ``configs/csmri_<name>`` for each name that has one, ``configs/training.json`` right after
    ``csmri_train.json``, ``configs/inference_loader.json`` right after ``csmri_inference.json``), then the
    bundle's layer (its ``common.json``, then its own ``<name>`` for each name that has one)."""
    shared = [REPO / "configs" / f"csmri_{name}" for name in names]
    own = [bundle / "configs" / name for name in names]
    for name, pair in zip(names, zip(shared, own)):
        if not any(p.is_file() for p in pair):
            raise FileNotFoundError(f"no config {name!r} in configs/csmri_* or {bundle / 'configs'}")
    files = [REPO / "configs" / "csmri.json"]
    for p in shared:
        if p.is_file():
            files.append(p)
            if p.name == "csmri_train.json":  # training.json fills the train/validate sections csmri_train.json opens
                files.append(REPO / "configs" / "training.json")
            if p.name == "csmri_inference.json":  # the loader of the datalist and preprocessing it defines
                files.append(REPO / "configs" / "inference_loader.json")
    files.append(bundle / "configs" / "common.json")
    return [str(f) for f in files + [p for p in own if p.is_file()]]


def undersampled_slice(root: Path, out: Path, volume: bool = False) -> dict:
    """The first test slice of a tiny CS-MRI dataset under ``root`` as measured k-space (``slice.npz``, 1D Gaussian
    30 %), its zero-filled NIfTI (``slice.nii.gz``) and, with ``volume``, a 3-slice zero-filled volume."""
    import glob

    import nibabel as nib
    import numpy as np

    from monai_genmed.data import default_undersampling_mask
    from monai_genmed.transforms.kspace import image_to_kspace, save_kspace, zero_filled

    path = sorted(glob.glob(str(root / "data" / "brain_mr" / "test" / "**" / "*_t1.nii.gz"), recursive=True))[0]
    image = nib.load(path)
    target = image.get_fdata().astype(np.float32)
    mask = default_undersampling_mask("gaussian1d", 0.3, target.shape)
    kspace = image_to_kspace(target[None])[0] * mask
    save_kspace(out / "slice.npz", kspace, mask, image.affine)
    zf = np.asarray(zero_filled(kspace[None]))[0].astype(np.float32)
    nib.save(nib.Nifti1Image(zf, image.affine), out / "slice.nii.gz")
    if volume:
        nib.save(nib.Nifti1Image(np.stack([zf] * 3, -1), image.affine), out / "volume.nii.gz")
    return {"dir": out, "affine": image.affine, "kspace": kspace, "mask": mask}

"""score_checkpoint / verify_shipped on tiny data: the manifest's numbers are reproduced, and damage is caught."""

from __future__ import annotations

import json

import pytest
import torch

from monai_genmed.apps.reconstruction import (
    score_checkpoint,
    sha256_of,
    shipped_checkpoint,
    verify_shipped,
    write_manifest_entry,
)
from monai_genmed.data import generate_brain_mr_dataset
from monai_genmed.networks.nets import DataConsistentCascade

TINY = {"cascades": 2, "channels": 4, "depth": 3}
SETTING = {"mask_type": "gaussian1d", "sampling_fraction": 0.3}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    root = tmp_path_factory.mktemp("shipped")
    datalist = generate_brain_mr_dataset(root / "data", num_subjects={"training": 1, "validation": 1, "test": 1},
                                         slices_per_subject=3, spatial_size=(32, 32), seed=0)  # fmt: skip
    torch.manual_seed(0)
    torch.save({"model": DataConsistentCascade(**TINY).state_dict(), "run_fingerprint": SETTING}, root / "model.pt")
    method = {"name": "Cascade + DC", "network": DataConsistentCascade(**TINY), "checkpoint": str(root / "model.pt"),
              "extra_keys": ["kspace_masked", "mask"]}  # fmt: skip
    scores = score_checkpoint(method, datalist, SETTING, slices=2)
    entry = {"sha256": sha256_of(root / "model.pt"), "setting": SETTING, "split": "validation", "val_psnr": scores}
    write_manifest_entry(root / "manifest.json", "cascade", entry)
    return root, datalist, method


def test_manifest_entry_is_reproduced(shipped):
    root, datalist, method = shipped
    entry = json.loads((root / "manifest.json").read_text())["cascade"]
    assert len(entry["val_psnr"]) == 3 and 10 < entry["val_psnr"]["mean"] < 60  # two slices and their mean
    again = verify_shipped(entry, dict(method, network=DataConsistentCascade(**TINY)), datalist)
    assert again == pytest.approx(entry["val_psnr"], abs=1e-6)


def test_a_changed_file_or_network_is_caught(shipped, tmp_path):
    root, datalist, method = shipped
    entry = json.loads((root / "manifest.json").read_text())["cascade"]
    with pytest.raises(ValueError, match="sha256"):
        verify_shipped(dict(entry, sha256="0" * 64), method, datalist)
    moved = dict(entry, val_psnr={k: v + 1.0 for k, v in entry["val_psnr"].items()})
    with pytest.raises(ValueError, match="tolerance 0.05 dB"):
        verify_shipped(moved, method, datalist)
    with pytest.raises(ValueError, match="trained for mask_type='gaussian1d'"):
        score_checkpoint(method, datalist, {"mask_type": "poisson2d", "sampling_fraction": 0.3}, slices=1)


def test_record_then_verify_manifest_round_trip(shipped, tmp_path):
    """record_shipped writes the entry under the checkpoint folder's name with the command beside the file;
    verify_manifest reproduces it, and a method the manifest lacks is named with how to record it."""
    from monai_genmed.apps.reconstruction import record_shipped, verify_manifest

    root, datalist, method = shipped
    folder = tmp_path / "cascade_gaussian1d_30"
    folder.mkdir()
    (folder / "model.pt").write_bytes((root / "model.pt").read_bytes())
    (folder / "command.txt").write_text("python -m monai.bundle run ... --epochs 1\n")
    shipped_method = dict(method, checkpoint=str(folder / "model.pt"), **SETTING)
    entry = record_shipped(tmp_path / "manifest.json", shipped_method, datalist, slices=2)
    stored = json.loads((tmp_path / "manifest.json").read_text())["cascade_gaussian1d_30"]
    assert (
        stored == entry
        and entry["command"].endswith("--epochs 1")
        and entry["file"] == "cascade_gaussian1d_30/model.pt"
    )
    assert entry["sha256"] == sha256_of(folder / "model.pt") and len(entry["val_psnr"]) == 3
    again = verify_manifest(
        tmp_path / "manifest.json", [dict(shipped_method, network=DataConsistentCascade(**TINY))], datalist
    )
    assert again["cascade_gaussian1d_30"] == pytest.approx(entry["val_psnr"], abs=1e-6)
    # the same file again in a flip ensemble (another row of the table): the file is checked once, as the plain network
    from monai_genmed.networks.nets import FlipEnsemble

    both = [dict(shipped_method, network=DataConsistentCascade(**TINY)),
            dict(shipped_method, name="ensemble", network=FlipEnsemble(DataConsistentCascade(**TINY)))]  # fmt: skip
    assert verify_manifest(tmp_path / "manifest.json", both, datalist) == again
    with pytest.raises(ValueError, match="record it with the ship_weights config"):
        verify_manifest(tmp_path / "manifest.json", [dict(shipped_method, checkpoint=str(root / "model.pt"))], datalist)


def test_shipped_checkpoint_names_the_shipped_settings_when_none_fits(tmp_path):
    """An inference config's default ckpt_path: the file of the mask and fraction, or an error that lists what is
    shipped; a method list (required=False) gets the path of a file not made yet."""
    for name in ("dagan_poisson2d_20", "dagan_gaussian1d_30", "unet_pixel_poisson2d_20"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pt").write_bytes(b"")
    assert shipped_checkpoint(tmp_path, "dagan", "poisson2d", 0.2) == str(tmp_path / "dagan_poisson2d_20" / "model.pt")
    later = shipped_checkpoint(tmp_path, "dagan", "poisson2d", 0.1, required=False)
    assert later == str(tmp_path / "dagan_poisson2d_10" / "model.pt")
    with pytest.raises(FileNotFoundError) as info:
        shipped_checkpoint(tmp_path, "dagan", "poisson2d", 0.1)
    message = str(info.value)
    assert "dagan_poisson2d_10" in message and "--ckpt_path" in message
    assert "--mask_type gaussian1d --sampling_fraction 0.3; --mask_type poisson2d --sampling_fraction 0.2" in message
    assert "other shipped models in" in message and "unet_pixel_poisson2d_20" in message
    with pytest.raises(FileNotFoundError, match="settings: none"):
        shipped_checkpoint(tmp_path / "absent", "dagan", "poisson2d", 0.2)

"""The shipped CS-MRI weights (dagan_csmri's models/varied, cascade_csmri's models): their manifests hold, and the
cascades run through their bundle's inference config.

A fresh clone regenerates only the first validation subject of the varied data (subject i of a split depends only
on the seed, the split and i), so the check takes seconds: every file's sha256 and its validation PSNR on the
manifest's slices within 0.05 dB, through the bundle's own verify_shipped config.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from monai.bundle import ConfigParser, run

from monai_genmed.transforms.kspace import image_to_kspace, save_kspace, zero_filled

from .conftest import REPO, csmri_configs
from .test_bad_inputs import expect

DAGAN, CASCADE = REPO / "bundles" / "dagan_csmri", REPO / "bundles" / "cascade_csmri"
#: where each bundle keeps its shipped files and their manifest
MODELS = {"dagan_csmri": DAGAN / "models" / "varied", "cascade_csmri": CASCADE / "models"}


@pytest.fixture(scope="module")
def bundle():
    return DAGAN


def configs(bundle, *names):
    return csmri_configs(bundle, "evaluate.json", "varied_data.json", "evaluate_varied.json", *names)


ONE_SUBJECT = {"num_subjects": {"training": 0, "validation": 1, "test": 0}, "device_name": "cpu"}


@pytest.fixture(scope="module")
def one_subject(bundle, tmp_path_factory):
    """The varied data's first validation subject alone, made by the bundle's own data definition."""
    folder = tmp_path_factory.mktemp("varied") / "brain_mr_varied"
    parser = ConfigParser()
    parser.read_config(configs(bundle))
    parser.update({"dataset_dir": str(folder), **ONE_SUBJECT})
    return parser.get_parsed_content("datalist")


@pytest.mark.parametrize("owner", [DAGAN, CASCADE], ids=["dagan_csmri", "cascade_csmri"])
def test_manifest_lists_every_shipped_method(owner):
    manifest = json.loads((MODELS[owner.name] / "manifest.json").read_text())
    parser = ConfigParser()
    parser.read_config(configs(owner, "verify_shipped.json"))
    folders = {m["checkpoint"].split("/")[-2] for m in parser.get_parsed_content("learned_methods")}
    assert folders == set(manifest)
    assert {os.path.dirname(m["checkpoint"]) for m in parser.get_parsed_content("learned_methods")} <= {
        str(MODELS[owner.name] / name) for name in manifest
    }
    for name, entry in manifest.items():
        assert (MODELS[owner.name] / entry["file"]).is_file(), name
        # the command as it was run (the cascades were trained when they lived in dagan_csmri/models/varied)
        assert entry["command"] and "--ckpt_dir bundles/dagan_csmri/models/varied/" + name in entry["command"]
    # ship_weights.json records each file once, with the first (plain) method that loads it, not its flip ensemble
    parser.read_config(configs(owner, "ship_weights.json"))
    shipped = parser.get_parsed_content("ship_methods")
    assert sorted(m["checkpoint"].split("/")[-2] for m in shipped) == sorted(manifest)
    assert not any("flip ensemble" in m["name"] for m in shipped)


@pytest.mark.parametrize("owner", [DAGAN, CASCADE], ids=["dagan_csmri", "cascade_csmri"])
def test_shipped_weights_reproduce_their_manifest(owner, one_subject):
    """verify_shipped.json: sha256 and the documented validation PSNR (tolerance 0.05 dB) of every shipped file."""
    run(config_file=configs(owner, "verify_shipped.json"), dataset_dir=os.path.dirname(one_subject), **ONE_SUBJECT)


@pytest.mark.parametrize("setting", ["gaussian1d_30", "poisson2d_20"])
@pytest.mark.parametrize("model,overlays", [("cascade", ("small.json",)), ("cascade_wide", ())])
def test_shipped_cascade_reconstructs_kspace_through_inference_json(one_subject, tmp_path, setting, model, overlays):
    """A user's k-space file through inference.json with a shipped cascade (its widths from the overlay config, not
    retyped): better than zero-filled, on the grid."""
    from monai.data import load_decathlon_datalist

    item = load_decathlon_datalist(one_subject, data_list_key="validation")[5]
    image = nib.load(item["image"])
    target = image.get_fdata().astype(np.float32)
    mask_type, percent = setting.split("_")
    from monai_genmed.data.masks import default_undersampling_mask

    mask = np.asarray(default_undersampling_mask(mask_type, int(percent) / 100, target.shape), np.float32)
    save_kspace(tmp_path / "scan.npz", np.asarray(image_to_kspace(target[None]))[0] * mask, mask, image.affine)
    # the default ckpt_path is the shipped file of the mask and width asked for
    run(
        config_file=csmri_configs(CASCADE, "inference.json", *overlays),
        input_path=str(tmp_path / "scan.npz"),
        output_dir=str(tmp_path / "out"),
        device_name="cpu",
        mask_type=mask_type,
        sampling_fraction=int(percent) / 100,
    )
    result = nib.load(tmp_path / "out" / "scan_recon.nii.gz")
    np.testing.assert_allclose(result.affine, image.affine, atol=1e-5)
    recon = result.get_fdata().astype(np.float32)
    zf = np.asarray(zero_filled(np.asarray(image_to_kspace(target[None])) * mask))[0]

    def err(x: np.ndarray) -> float:
        return float(np.mean((x - target) ** 2))

    assert err(recon) < 0.5 * err(zf), f"the shipped {model} should at least halve zero-filled's error"


def documented_command(readme: Path, config: str) -> tuple[list[str], dict[str, Any]]:
    """The ``python -m monai.bundle run`` command of ``readme`` that lists ``config``, as (config files, arguments):
    its shell variables (``D=...``) substituted, continuation lines joined, values read as Fire reads them."""
    text = readme.read_text()
    variables = dict(re.findall(r"^([A-Z]+)=(\S+)$", text, re.MULTILINE))
    commands = re.findall(r"^python -m monai\.bundle run (?:.*\\\n)*.*$", text, re.MULTILINE)
    command = next(c for c in commands if config in c).replace("\\\n", " ")
    for name, value in variables.items():
        command = command.replace(f"${name}", value)
    words = shlex.split(command)[4:]
    args = {}
    for key, value in zip(words[::2], words[1::2]):
        try:
            args[key.removeprefix("--")] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            args[key.removeprefix("--")] = value
    return [str(REPO / f) for f in args.pop("config_file")], args


def test_documented_dagan_inference_uses_the_shipped_file_of_the_mask(one_subject, tmp_path, monkeypatch):
    """dagan_csmri's README command, without --ckpt_path, on one zero-filled slice: the shipped DAGAN of its mask and
    fraction halves zero-filled's error; a setting with no shipped file is refused with the ones there are."""
    from monai.data import load_decathlon_datalist

    files, args = documented_command(DAGAN / "docs" / "README.md", "$D/inference.json")
    assert "ckpt_path" not in args and str(DAGAN / "configs" / "inference.json") in files
    item = load_decathlon_datalist(one_subject, data_list_key="validation")[5]
    image = nib.load(item["image"])
    target = image.get_fdata().astype(np.float32)
    from monai_genmed.data.masks import default_undersampling_mask

    mask = np.asarray(default_undersampling_mask(args["mask_type"], args["sampling_fraction"], target.shape))
    zf = np.abs(np.asarray(zero_filled(np.asarray(image_to_kspace(target[None])) * mask))[0]).astype(np.float32)
    nib.save(nib.Nifti1Image(zf, image.affine), tmp_path / "scan_zero_filled.nii.gz")
    monkeypatch.chdir(REPO)  # the README's commands run from the repository root
    args.update(input_path=str(tmp_path / "scan_zero_filled.nii.gz"), output_dir=str(tmp_path / "out"))
    run(config_file=files, device_name="cpu", **args)
    result = nib.load(tmp_path / "out" / "scan_zero_filled_recon.nii.gz")
    np.testing.assert_allclose(result.affine, image.affine, atol=1e-5)
    recon = result.get_fdata().astype(np.float32).reshape(target.shape)
    assert np.mean((recon - target) ** 2) < 0.5 * np.mean((zf - target) ** 2)
    shipped = "--mask_type poisson2d --sampling_fraction 0.2"
    expect(lambda: run(config_file=files, device_name="cpu", **{**args, "sampling_fraction": 0.25}),
           (FileNotFoundError,), "dagan_poisson2d_25", shipped, "--ckpt_path")  # fmt: skip


def test_varied_comparison_runs_bm3d_at_its_documented_iterations(bundle):
    """The varied tables' BM3D-MRI runs 32 iterations (16 left 0.15-0.8 dB to it); the prior-free tables, archived at
    16, keep 16 so their documented command reproduces them; the noise-level row is the 16-iteration default."""
    for extra, fixed, n_iter in (((), "bm3d", 32), (("evaluate_no_prior.json",), "bm3d", 16), ((), "bm3d_noise", None)):
        parser = ConfigParser()
        parser.read_config(configs(bundle, *extra))
        assert parser.get_parsed_content("classical_fixed_params")[fixed].get("n_iter") == n_iter

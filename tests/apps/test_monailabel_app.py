"""The MONAI Label sample app over HTTP: `monailabel start_server` on loopback with apps/monailabel_genmed, a studies
folder made from the embedded Colin27 head, POST /infer/<task> as 3D Slicer sends it, and bad inputs.

MONAI Label needs numpy<2 and pydicom 2.4.4, so it runs from its own venv (``bash .ci/install_monailabel`` makes
``.venv-label``; ``MONAI_GENMED_LABEL_PYTHON`` points at another python). Skipped only where that is absent.
"""

from __future__ import annotations

import base64
import email
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.transforms import LoadImage

from monai_genmed.data import default_undersampling_mask
from monai_genmed.data.colin27 import colin27_brain_mask, colin27_head_mask, load_colin27_t1
from monai_genmed.data.head_mr_ct import colin27_hounsfield
from monai_genmed.transforms.kspace import image_to_kspace, save_kspace, zero_filled

REPO = Path(__file__).resolve().parents[2]
LABEL_PYTHON = Path(os.environ.get("MONAI_GENMED_LABEL_PYTHON", REPO / ".venv-label" / "bin" / "python"))
SCT_WEIGHTS = REPO / "bundles" / "cyclegan_mr2ct" / "models" / "model.pt"
pytestmark = pytest.mark.skipif(not LABEL_PYTHON.is_file(), reason=f"MONAI Label is not installed ({LABEL_PYTHON} is "
                                "absent; make it with `bash .ci/install_monailabel` or set "
                                "MONAI_GENMED_LABEL_PYTHON)")  # fmt: skip
needs_sct_weights = pytest.mark.skipif(
    not SCT_WEIGHTS.is_file(), reason=f"the shipped synthetic-CT weights {SCT_WEIGHTS} are absent"
)
# six axial slices through the ventricles and the skull, cropped to 128 x 128 mm around the head's centre: the field
# of view of the phantom's training slices, which hold no air around the head (outside it the shipped models' HU
# are wrong: docs/clinical_files.md)
SLAB = (slice(26, 154), slice(45, 173), slice(84, 90))


def _slab(volume: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(volume[SLAB])


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("monailabel")
    studies = root / "studies"
    studies.mkdir()
    t1, affine = load_colin27_t1()
    affine = affine.copy()
    affine[:3, 3] += affine[:3, :3] @ [s.start for s in SLAB]
    nib.save(nib.Nifti1Image(_slab(t1) / t1.max(), affine), studies / "mr_head.nii.gz")
    # the same six slices over the whole head, air around it: the field of view of a clinical MR
    whole = t1[:, :, SLAB[2]] / t1.max()
    whole_affine = load_colin27_t1()[1].copy()
    whole_affine[:3, 3] += whole_affine[:3, :3] @ [0, 0, SLAB[2].start]
    nib.save(nib.Nifti1Image(whole.astype(np.float32), whole_affine), studies / "mr_whole_head.nii.gz")
    # a CT of the whole head, air around it, as a scanner writes it
    nib.save(
        nib.Nifti1Image(colin27_hounsfield()[:, :, SLAB[2]].astype(np.int16), load_colin27_t1()[1]),
        studies / "ct_head.nii.gz",
    )
    uploads = root / "uploads"
    uploads.mkdir()
    nib.save(nib.Nifti1Image(np.stack([_slab(t1)] * 2, -1), affine), uploads / "mr_4d.nii.gz")
    # one brain slice, 256 x 256 as the shipped reconstruction models were trained, undersampled with their mask
    target = np.zeros((256, 256), np.float32)
    target[37:218, 19:236] = t1[:, :, 86] / t1.max()
    mask = default_undersampling_mask("poisson2d", 0.2, target.shape)
    kspace = image_to_kspace(target[None])[0] * mask
    save_kspace(uploads / "slice.npz", kspace, mask, affine)
    # the same measurement as a scanner's zero-filled magnitude image: goes to the shipped DAGAN, not the cascade
    nib.save(nib.Nifti1Image(np.abs(np.asarray(zero_filled(kspace[None]))[0]).astype(np.float32), affine),
             uploads / "slice_zero_filled.nii.gz")  # fmt: skip
    save_kspace(uploads / "mask_of_another_size.npz", kspace, mask[:128, :128], affine)
    (uploads / "empty_series").mkdir()
    return {"root": root, "studies": studies, "uploads": uploads, "affine": affine, "target": target,
            "zero_filled": np.asarray(zero_filled(kspace[None]))[0]}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(studies):
    port = _free_port()
    root = studies["root"]
    app = root / "app"
    shutil.copytree(
        REPO / "apps" / "monailabel_genmed", app, ignore=shutil.ignore_patterns("__pycache__", "model", "logs")
    )
    env = {**os.environ, "MONAILABEL_PYEXE": str(LABEL_PYTHON), "PATH": f"{LABEL_PYTHON.parent}:{os.environ['PATH']}",
           "MONAI_GENMED_REPO": str(REPO), "MONAI_LABEL_SESSION_PATH": str(root / "sessions"), "TMPDIR": str(root),
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}  # fmt: skip
    log = open(root / "server.log", "w")
    process = subprocess.Popen([str(LABEL_PYTHON.parent / "monailabel"), "start_server", "--app", str(app), "--studies",
                                str(studies["studies"]), "--host", "127.0.0.1", "--port", str(port)],
                               cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if process.poll() is not None:
                pytest.fail(
                    f"the server exited with {process.returncode}:\n{(root / 'server.log').read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/info/", timeout=5) as r:
                    info = json.loads(r.read())
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        else:
            pytest.fail(f"the server did not answer in 120 s:\n{(root / 'server.log').read_text()[-3000:]}")
        yield {"url": url, "info": info, "log": root / "server.log"}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def infer(server, task, image="", params=None, upload=None):
    """POST /infer/<task>?output=all as MONAI Label's clients do; returns (status, result JSON or error, file bytes)."""
    query = urllib.parse.urlencode({"image": image, "output": "all"})
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n{json.dumps(params or {})}\r\n'.encode()
    ]
    if upload is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{Path(upload).name}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode()
                     + Path(upload).read_bytes() + b"\r\n")  # fmt: skip
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{server['url']}/infer/{task}?{query}", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=300) as r:
            content, content_type = r.read(), r.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            return error.code, json.loads(text), None
        except json.JSONDecodeError:
            return error.code, {"detail": text}, None
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + content)
    parts = {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.get_payload()
    }
    return 200, json.loads(parts["params"]), parts.get("image")


def _read(payload: bytes, suffix: str, tmp_path: Path):
    path = tmp_path / f"result{suffix}"
    path.write_bytes(payload)
    image = LoadImage(image_only=True)(str(path))
    return image.numpy(), image.affine.numpy(), nib.load(path).get_data_dtype() if suffix == ".nii.gz" else None


@needs_sct_weights
def test_synthetic_ct_as_slicer_asks_returns_int16_hu_on_the_mr_grid(server, studies, tmp_path):
    assert {"synthetic_ct", "reconstruction"} <= set(server["info"]["models"])
    slicer = {"result_extension": ".nrrd", "result_dtype": "uint8"}  # what 3D Slicer's plugin sends every time
    start = time.time()
    status, result, payload = infer(server, "synthetic_ct", image="mr_head", params=slicer)
    first = time.time() - start
    assert status == 200, result
    assert (
        result["result_dtype"] == "int16"
        and result["requested_result_dtype"] == "uint8"
        and "int16 was written" in result["why"]
    )
    hu, affine, _ = _read(payload, ".nrrd", tmp_path)
    source = nib.load(studies["studies"] / "mr_head.nii.gz")
    assert hu.shape == source.shape and np.array_equal(hu, np.round(hu))
    np.testing.assert_allclose(affine, source.affine, atol=1e-4)
    head, brain, reference = _slab(colin27_head_mask()), _slab(colin27_brain_mask()), _slab(colin27_hounsfield())
    bone = head & (reference > 500)
    assert 0 <= np.median(hu[brain]) <= 80  # soft tissue
    assert np.median(hu[bone]) > 300  # skull inside the head
    assert np.abs(hu - reference)[head].mean() < 100  # the head's CT (the phantom's source), within the model's MAE
    # a second call as the README's Slicer console snippet makes it (no form, output=image): a NIfTI, same values;
    # and the latency of a warm server
    start = time.time()
    bare = urllib.request.Request(
        f"{server['url']}/infer/synthetic_ct?image=mr_head&output=image", data=b"", method="POST"
    )
    with urllib.request.urlopen(bare, timeout=300) as r:
        payload = r.read()
    second = time.time() - start
    again, affine, dtype = _read(payload, ".nii.gz", tmp_path)
    assert dtype == np.int16 and np.array_equal(again, hu)
    np.testing.assert_allclose(affine, source.affine, atol=1e-4)
    print(f"\nsynthetic CT over HTTP: first call {first:.1f} s, second {second:.1f} s "
          f"(bundle {result['latencies']['bundle']:.1f} s in the first), brain {np.median(hu[brain]):.0f}, "
          f"bone {np.median(hu[bone]):.0f} HU, "
          f"MAE in the head {np.abs(hu - reference)[head].mean():.1f} HU")  # fmt: skip


@needs_sct_weights
def test_synthetic_ct_of_a_whole_head_has_air_around_it_and_its_uncertainty_as_a_second_image(
    server, studies, tmp_path
):
    status, result, payload = infer(
        server, "synthetic_ct", image="mr_whole_head", params={"uncertainty": True, "result_dtype": "uint8"}
    )
    assert status == 200, result
    assert result["image"] == "the result" and result["result_dtype"] == "int16"
    hu, affine, dtype = _read(payload, ".nii.gz", tmp_path)
    source = nib.load(studies["studies"] / "mr_whole_head.nii.gz")
    assert hu.shape == source.shape and dtype == np.int16
    np.testing.assert_allclose(affine, source.affine, atol=1e-4)
    # the air around the head is air (the generator alone gives +709 HU there: docs/clinical_files.md)
    head, reference = colin27_head_mask()[:, :, SLAB[2]], colin27_hounsfield()[:, :, SLAB[2]]
    air = ~head & (reference < -500)
    assert np.median(hu[air]) == -1000 and np.mean(hu[air] == -1000) > 0.9
    # the flip spread travels in the JSON as a second image on the same grid, 0 where the air was set
    second = result["second_image"]
    assert second["name"] == "uncertainty" and second["dtype"] == "float32" and second["encoding"] == "base64"
    (tmp_path / "spread").mkdir()
    spread, spread_affine, spread_dtype = _read(base64.b64decode(second["data"]), ".nii.gz", tmp_path / "spread")
    assert spread.shape == source.shape and spread_dtype == np.float32
    np.testing.assert_allclose(spread_affine, source.affine, atol=1e-4)
    assert spread.min() >= 0 and spread[head].max() > 0 and np.all(spread[air & (hu == -1000)] == 0)
    # "only": the map is the image (for a viewer that loads the returned file), the same values
    status, result, payload = infer(server, "synthetic_ct", image="mr_whole_head", params={"uncertainty": "only"})
    assert status == 200 and result["image"].startswith("uncertainty") and result["result_dtype"] == "float32", result
    np.testing.assert_array_equal(_read(payload, ".nii.gz", tmp_path)[0], spread)
    # mask_outside_head false: the generator's own values in the air
    status, result, payload = infer(server, "synthetic_ct", image="mr_whole_head", params={"mask_outside_head": False})
    assert status == 200 and np.median(_read(payload, ".nii.gz", tmp_path)[0][air]) > 0, result


def test_reconstruction_of_uploaded_kspace_is_float_in_the_input_units_and_beats_zero_filled(server, studies, tmp_path):
    status, result, payload = infer(server, "reconstruction",
                                    params={"result_extension": ".nrrd", "result_dtype": "uint8"},
                                    upload=studies["uploads"] / "slice.npz")  # fmt: skip
    assert status == 200, result
    assert result["result_dtype"] == "float32" and result["weights"].startswith("models/cascade_wide_")
    recon = _read(payload, ".nrrd", tmp_path)[0]
    recon = recon.reshape(studies["target"].shape)
    target, zf = studies["target"], np.abs(studies["zero_filled"])
    error, zf_error = np.mean((recon - target) ** 2), np.mean((zf - target) ** 2)
    assert error < zf_error / 2  # the cascade removes most of the undersampling error, on the input's scale
    assert abs(np.percentile(recon, 99) - np.percentile(target, 99)) < 0.1
    # the flip-spread map: on the same grid, larger where the reconstruction is wrong
    status, result, payload = infer(
        server, "reconstruction", params={"uncertainty": "only"}, upload=studies["uploads"] / "slice.npz"
    )
    assert status == 200 and result["image"].startswith("uncertainty"), result
    spread = _read(payload, ".nii.gz", tmp_path)[0].reshape(target.shape)
    order = np.argsort(spread.ravel())
    tenth = order.size // 10
    error = np.abs(recon - target).ravel()
    assert spread.min() >= 0 and error[order[-tenth:]].mean() > 2 * error[order[:tenth]].mean()


def test_reconstruction_of_an_uploaded_zero_filled_image_is_the_shipped_dagan_on_the_input_grid(
    server, studies, tmp_path
):
    upload = studies["uploads"] / "slice_zero_filled.nii.gz"
    status, result, payload = infer(server, "reconstruction", params={"uncertainty": True, "result_dtype": "uint8"},
                                    upload=upload)  # fmt: skip
    assert status == 200, result
    assert result["bundle"] == "dagan_csmri" and result["weights"] == "models/varied/dagan_poisson2d_20/model.pt"
    assert result["result_dtype"] == "float32" and "float32 was written" in result["why"]
    recon, affine, dtype = _read(payload, ".nii.gz", tmp_path)
    source = nib.load(upload)
    assert dtype == np.float32 and recon.shape == (*source.shape, 1)  # one slice, written as a volume of one slice
    np.testing.assert_allclose(affine, source.affine, atol=1e-4)
    recon, target, zf = recon[..., 0], studies["target"], np.asarray(source.dataobj)
    error = np.mean((recon - target) ** 2)
    assert error < 0.75 * np.mean((zf - target) ** 2)  # closer to the truth than its input (the DAGAN: half the MSE)
    second = result["second_image"]  # the flip spread, as a second image on the same grid
    assert second["name"] == "uncertainty" and second["dtype"] == "float32", second
    (tmp_path / "spread").mkdir()
    spread, spread_affine, spread_dtype = _read(base64.b64decode(second["data"]), ".nii.gz", tmp_path / "spread")
    assert spread.shape == recon.shape + (1,) and spread_dtype == np.float32
    np.testing.assert_allclose(spread_affine, source.affine, atol=1e-4)
    order = np.argsort(spread.ravel())
    tenth = order.size // 10
    error = np.abs(recon - target).ravel()
    assert spread.min() >= 0 and error[order[-tenth:]].mean() > 2 * error[order[:tenth]].mean()


@pytest.mark.parametrize("task, bundle", [("sample_vae", "vae_mri"), ("sample_gan", "gan_mri")])
def test_sampling_task_returns_a_stack_of_samples_of_the_shipped_generator(server, tmp_path, task, bundle):
    assert task in server["info"]["models"]  # listed: the bundle ships models/model.pt
    status, result, payload = infer(server, task, image="mr_head",
                                    params={"num_samples": 3, "seed": 7, "result_dtype": "uint8"})  # fmt: skip
    assert status == 200, result
    assert result["result_dtype"] == "float32" and result["num_samples"] == 3 and result["bundle"] == bundle
    assert result["weights"] == "models/model.pt"
    stack, _, dtype = _read(payload, ".nii.gz", tmp_path)
    assert stack.shape == (64, 64, 3) and dtype == np.float32 and np.isfinite(stack).all()
    assert stack.std() > 0.01 and -0.1 <= stack.min() and stack.max() <= 1.5  # images, about [0, 1]
    assert not np.array_equal(stack[..., 0], stack[..., 1])  # three draws, not one
    status, _, payload = infer(server, task, image="mr_head", params={"num_samples": 3, "seed": 7})
    assert status == 200
    np.testing.assert_array_equal(_read(payload, ".nii.gz", tmp_path)[0], stack)  # the seed fixes the draws
    status, result, _ = infer(server, task, image="mr_head", params={"num_samples": 0})
    assert status == 422 and "num_samples must be an integer in [1, 256]" in result["detail"], result


@pytest.mark.parametrize(
    "task, image, upload, expected",
    [
        ("synthetic_ct", "ct_head", None, "Hounsfield"),
        ("synthetic_ct", "", "mr_4d.nii.gz", "not one 3D MR volume"),
        ("synthetic_ct", "EMPTY", None, "empty folder"),
        ("reconstruction", "", "mask_of_another_size.npz", "does not match k-space of shape (256, 256"),
    ],
)
def test_bad_input_is_answered_with_the_reason_and_the_server_keeps_serving(
    server, studies, task, image, upload, expected
):
    image = str(studies["uploads"] / "empty_series") if image == "EMPTY" else image
    status, result, _ = infer(server, task, image=image, upload=upload and studies["uploads"] / upload)
    assert status == 422 and expected in result["detail"], result
    with urllib.request.urlopen(f"{server['url']}/info/", timeout=10) as r:
        assert r.status == 200

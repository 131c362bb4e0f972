"""MONAI Label infer tasks that run a bundle's own ``inference.json`` and return an image, not a label map.

Each task parses the bundle's configs (``common.json`` + ``inference.json`` + the layers that select a shipped
model), so the network, its weights and fingerprint check, the input checks, the reorientation/resampling/padding
and their inversion are the bundle's: nothing is defined twice. The result keeps its values whatever the client
asks: MONAI Label's clients (3D Slicer, OHIF) send ``result_dtype=uint8`` with every request, which would cast
Hounsfield units or a reconstruction to 8 bits; these tasks write int16 HU (synthetic CT) or float32 (the
reconstruction, in the input's units) and say in the response's JSON what was returned and why.
"""

from __future__ import annotations

import base64
import glob
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.utils import optional_import

BasicInferTask, _ = optional_import("monailabel.tasks.infer.basic_infer", name="BasicInferTask", as_type="base")
InferType, _ = optional_import("monailabel.interfaces.tasks.infer_v2", name="InferType")
write_itk, _ = optional_import("monailabel.transform.writer", name="write_itk")

__all__ = ["BundleImageTask", "GenerativeSampleTask", "ReconstructionTask", "SyntheticCTTask", "check_mr_volume"]

#: a volume with more than this fraction of its voxels below -200 is taken for a CT in HU (MR magnitudes are >= 0)
CT_LIKE_FRACTION = 0.05


def check_mr_volume(path: str) -> None:
    """Refuse what the synthetic-CT task cannot turn into a CT: not one 3D volume (a 4D series), or a CT in HU."""
    from monai.transforms import LoadImage

    image = LoadImage(image_only=True)(path)
    shape = tuple(image.shape)
    if len([s for s in shape if s > 1]) > 3:
        raise ValueError(f"{Path(path).name}: image of shape {shape} is not one 3D MR volume; send a single 3D "
                         "volume (one echo, one time point), not a 4D series.")  # fmt: skip
    values = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if np.mean(values < -200) > CT_LIKE_FRACTION:
        raise ValueError(
            f"{Path(path).name}: {np.mean(values < -200):.0%} of the voxels are below -200, as in a CT "
            "in Hounsfield units; this task takes an MR volume (magnitudes >= 0) and makes the CT."
        )


class BundleImageTask(BasicInferTask):
    """Run a bundle's ``inference.json`` on the request's image and return its output image.

    Args:
        bundle_dir: the bundle folder (``bundles/<name>``).
        config_files: names under the bundle's ``configs/`` layered in order (``common.json`` first), or paths from
            the repository root for the shared ones (``configs/inference_loader.json``).
        overrides: config values set on top (e.g. ``ckpt_path`` of a shipped model).
        output_glob: the file the bundle writes into its ``output_dir`` (e.g. ``"*_synct.nii.gz"``).
        result_dtype: the dtype written whatever the request asks (``"int16"``, ``"float32"``).
        units: what the values are, for the response's JSON.
        description: shown by MONAI Label's ``/info``.
        input_checks: callables run on the input path before the bundle (raise ``ValueError`` naming the fix).
    """

    def __init__(self, bundle_dir: str | os.PathLike, config_files: Sequence[str], overrides: Mapping[str, Any],
                 output_glob: str, result_dtype: str, units: str, description: str,
                 input_checks: Sequence[Any] = ()) -> None:  # fmt: skip
        self.bundle_dir = Path(bundle_dir).resolve()
        repo = self.bundle_dir.parents[1]
        self.config_files = [
            str(repo / name if "/" in name else self.bundle_dir / "configs" / name) for name in config_files
        ]
        self.overrides = dict(overrides)
        self.output_glob = output_glob
        self.result_dtype = result_dtype
        self.units = units
        self.input_checks = list(input_checks)
        weights = self.overrides.get("ckpt_path", str(self.bundle_dir / "models" / "model.pt"))
        super().__init__(path=weights, network=None, type=InferType.OTHERS, labels=None, dimension=3,
                         description=description, config={"result_dtype": result_dtype})  # fmt: skip

    def is_valid(self) -> bool:
        return all(os.path.isfile(p) for p in self.path)

    def pre_transforms(self, data=None) -> Sequence[Any]:
        """None here: the bundle's ``preprocessing`` runs inside :meth:`__call__`."""
        return []

    def post_transforms(self, data=None) -> Sequence[Any]:
        """None here: the bundle's ``postprocessing`` (inverse spatial steps, units) runs inside :meth:`__call__`."""
        return []

    @staticmethod
    def device_name(request: Mapping[str, Any]) -> str:
        """CUDA when the request asks for it (MONAI Label's default) and a GPU is there, else CPU."""
        wanted = str(request.get("device", "cuda"))
        wanted = wanted[0] if isinstance(request.get("device"), (list, tuple)) else wanted
        return "cuda" if wanted.startswith("cuda") and torch.cuda.is_available() else "cpu"

    def configure(self, input_path: str) -> tuple[list[str], dict[str, Any]]:
        """The config files and overrides that process ``input_path`` (one model for every input here); a
        ``bundle_root`` among the overrides names the bundle that runs (default ``bundle_dir``)."""
        return self.config_files, self.overrides

    uncertainty_description = ""
    #: the dtype of the uncertainty map (float32: a spread of a few HU or less is not rounded away)
    uncertainty_dtype = "float32"

    def uncertainty(self, input_path: str, work: str, device_name: str, result: np.ndarray) -> np.ndarray:
        """The uncertainty map of ``result``: a second image (``uncertainty: true``) or the image (``"only"``)."""
        raise ValueError(f"{type(self).__name__} offers no uncertainty map; leave out the request's 'uncertainty'.")

    def run_bundle(self, input_path: str, output_dir: str, device_name: str, extra: Mapping[str, Any] | None = None,
                   output_glob: str | None = None) -> str:  # fmt: skip
        """Parse the bundle's configs with ``input_path`` (and ``extra`` overrides), run its ``initialize`` and ``run``
        and return the output file (``output_glob``, default the task's)."""
        from monai.bundle import ConfigParser

        config_files, overrides = self.configure(input_path)
        parser = ConfigParser()
        parser.read_config(config_files)
        parser.update({"bundle_root": str(self.bundle_dir), **overrides, "input_path": input_path,
                       "output_dir": output_dir, "device_name": device_name, **(extra or {})})  # fmt: skip
        for key in ("initialize", "run"):
            if key in parser.config:
                parser.get_parsed_content(key, lazy=False)
        output_glob = output_glob or self.output_glob
        found = sorted(glob.glob(os.path.join(output_dir, output_glob)))
        if not found:
            raise RuntimeError(f"the bundle {self.bundle_dir.name} wrote no {output_glob} for {input_path}.")
        return found[0]

    def bundle_overrides(self, request: Mapping[str, Any], wants_uncertainty: bool) -> dict[str, Any]:
        """Config overrides of one request (none here; the synthetic CT passes its switches)."""
        return {}

    @staticmethod
    def uncertainty_mode(request: Mapping[str, Any]) -> str:
        """``"second"`` (the result as the image, the map as a second image in the JSON), ``"only"`` (the map as the
        image) or ``""`` (no map), from the request's ``uncertainty``: true / "only" / false."""
        value = str(request.get("uncertainty", "false")).lower()
        if value == "only":
            return "only"
        return "second" if value in ("1", "true", "yes") else ""

    def write_result(self, values: np.ndarray, affine: np.ndarray, dtype: str, request: Mapping[str, Any]) -> str:
        """``values`` as ``dtype`` in the request's ``result_extension`` (NIfTI by default) in a new temporary file."""
        import nibabel as nib

        values = values.astype(dtype)
        if values.ndim == 2:  # one slice: a volume of one slice, so the 4x4 affine places it (ITK writes 3D)
            values = values[..., None]
        extension = request.get("result_extension") or ".nii.gz"
        extension = extension if extension.startswith(".") else f".{extension}"
        handle, output_file = tempfile.mkstemp(suffix=extension)  # MONAI Label removes it once sent
        os.close(handle)
        if extension in (".nii", ".nii.gz"):
            nib.save(nib.Nifti1Image(values, affine), output_file)
        else:  # ITK writes NRRD, MHA, ... in LPS from the RAS affine
            write_itk(values, output_file, affine, dtype, bool(request.get("result_compress", False)))
        return output_file

    def __call__(self, request: Mapping[str, Any], callbacks=None) -> tuple[str, dict[str, Any]]:
        import nibabel as nib

        begin = time.time()
        input_path = str(request.get("image", ""))
        if not input_path or not os.path.exists(input_path):
            raise ValueError(f"image {input_path!r} does not exist; send a study id of the datastore or upload a file.")
        if os.path.isdir(input_path) and not any(os.scandir(input_path)):
            raise ValueError(f"{input_path!r} is an empty folder; send a folder that holds the series' .dcm files.")
        from monai_genmed.data import check_input_file

        check_input_file(input_path, "image", "an image (NIfTI, a DICOM series folder, MHA, NRRD) or k-space .npz/.npy")
        for check in self.input_checks:
            check(input_path)
        device_name = self.device_name(request)
        mode = self.uncertainty_mode(request)
        spread = None
        with tempfile.TemporaryDirectory(prefix="genmed_infer_") as work:
            start = time.time()
            produced = self.run_bundle(input_path, work, device_name, extra=self.bundle_overrides(request, bool(mode)))
            latency_bundle = time.time() - start
            result = nib.load(produced)
            values = np.asarray(result.dataobj).astype(np.float32)
            affine = result.affine
            if mode:
                spread = self.uncertainty(input_path, work, device_name, values)
        requested = request.get("result_dtype")
        dtype = self.uncertainty_dtype if mode == "only" else self.result_dtype
        output_file = self.write_result(spread if mode == "only" else values, affine, dtype, request)
        why = (
            (
                f"the values are {self.units}; the request's result_dtype={requested!r} would cast them to "
                f"{requested} and lose them, so {dtype} was written"
            )
            if requested and requested != dtype
            else ""
        )
        shown = spread if mode == "only" else values
        overrides = self.configure(input_path)[1]
        bundle_root = Path(overrides.get("bundle_root", self.bundle_dir))
        info = {
            "image": self.uncertainty_description if mode == "only" else "the result",
            "result_dtype": dtype,
            "requested_result_dtype": requested,
            "result_extension": os.path.splitext(output_file)[1] if not output_file.endswith(".nii.gz") else ".nii.gz",
            "units": self.units,
            "volume_type": "scalar",
            "load_as": "a scalar volume (not a segmentation or label map)",
            "why": why,
            "shape": list(shown.shape if shown.ndim > 2 else (*shown.shape, 1)),
            "value_range": [float(shown.min()), float(shown.max())],
            "device": device_name,
            "bundle": bundle_root.name,
            "weights": os.path.relpath(os.path.realpath(overrides.get("ckpt_path", self.path[-1])), bundle_root),
        }
        if mode == "second":  # MONAI Label sends one file and the JSON: the map travels in the JSON
            second = self.write_result(
                spread, affine, self.uncertainty_dtype, {**request, "result_extension": ".nii.gz"}
            )
            try:
                data = base64.b64encode(Path(second).read_bytes()).decode("ascii")
            finally:
                os.remove(second)
            info["second_image"] = {
                "name": "uncertainty", "description": self.uncertainty_description, "format": "NIfTI, gzip",
                "encoding": "base64", "dtype": self.uncertainty_dtype, "units": self.units,
                "value_range": [float(spread.min()), float(spread.max())], "data": data,
                "how_to_read": "base64-decode 'data' into a .nii.gz file; it has the result's grid (affine, shape)",
            }  # fmt: skip
        info["latencies"] = {"bundle": round(latency_bundle, 3), "total": round(time.time() - begin, 3)}
        return output_file, info


class SyntheticCTTask(BundleImageTask):
    """MR volume in (NIfTI, DICOM series folder, MHA, NRRD), synthetic CT out: int16 HU on the MR's grid, from the
    ``cyclegan_mr2ct`` bundle's shipped generator (``models/model.pt``) and its ``inference.json``."""

    def __init__(self, bundle_dir: str | os.PathLike, ckpt_path: str | None = None, **overrides: Any) -> None:
        bundle_dir = Path(bundle_dir)
        overrides = {
            "ckpt_path": str(ckpt_path or bundle_dir / "models" / "model.pt"),
            "output_format": "nifti",
            **overrides,
        }
        configs = ["common.json", "configs/inference_loader.json", "inference.json"]
        super().__init__(bundle_dir, configs, overrides, "*_synct.nii.gz", "int16",
                         "Hounsfield units", "MR -> synthetic CT (HU, int16) by the cyclegan_mr2ct generator",
                         input_checks=[check_mr_volume])  # fmt: skip

    uncertainty_description = (
        "uncertainty: |sCT(MR) - mirror(sCT(mirror(MR)))| / 2 in HU, the spread of the generator "
        "over a left-right mirror of the head, written by the bundle's inference beside the sCT "
        "(0 where the air around the head is set to -1000 HU; benchmarks/sct_uncertainty.py "
        "measures how it ranks the errors)"
    )

    @staticmethod
    def _switch(request: Mapping[str, Any], key: str, default: bool) -> bool:
        value = request.get(key, default)
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"{key} must be true or false, got {value!r}.")
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    def bundle_overrides(self, request: Mapping[str, Any], wants_uncertainty: bool) -> dict[str, Any]:
        """The bundle computes the flip spread in the same run (a second network pass) only when it is asked for;
        ``mask_outside_head: false`` in the request keeps the generator's values in the air around the head."""
        return {"uncertainty": wants_uncertainty, "mask_outside_head": self._switch(request, "mask_outside_head", True)}

    def uncertainty(self, input_path: str, work: str, device_name: str, result: np.ndarray) -> np.ndarray:
        """The ``*_synct_uncertainty.nii.gz`` that the bundle's inference wrote beside the synthetic CT."""
        import nibabel as nib

        found = sorted(glob.glob(os.path.join(work, "*_synct_uncertainty.nii.gz")))
        if not found:
            raise RuntimeError(
                f"the bundle {self.bundle_dir.name} wrote no *_synct_uncertainty.nii.gz for {input_path}."
            )
        spread = np.asarray(nib.load(found[0]).dataobj, np.float32)
        return spread.reshape(result.shape)


class ReconstructionTask(BundleImageTask):
    """CS-MRI reconstruction by a shipped model: measured k-space (``.npz``/``.npy``) goes to the ``cascade_csmri``
    data-consistent cascade, a zero-filled image to the ``dagan_csmri`` DAGAN generator (the cascade needs the
    measured samples). The output is float32 in the input's units (the bundle undoes its percentile scaling).

    Args:
        bundle_dir: ``bundles/cascade_csmri``.
        mask_type, sampling_fraction: the setting of the shipped weights (``<method>_<mask>_<percent>``).
        cascade: the folder of the k-space model under the cascade bundle's ``models`` (default the wide cascade).
        image_model: the folder of the zero-filled-image model under ``image_bundle_dir``'s ``models/varied``.
        image_bundle_dir: ``bundles/dagan_csmri`` (default: beside ``bundle_dir``).
    """

    def __init__(self, bundle_dir: str | os.PathLike, mask_type: str = "poisson2d", sampling_fraction: float = 0.2,
                 cascade: str | None = None, image_model: str | None = None,
                 image_bundle_dir: str | os.PathLike | None = None) -> None:  # fmt: skip
        bundle_dir = Path(bundle_dir).resolve()
        self.image_bundle_dir = Path(image_bundle_dir or bundle_dir.parent / "dagan_csmri").resolve()
        setting = f"{mask_type}_{round(sampling_fraction * 100)}"
        self.cascade_path = str(bundle_dir / "models" / (cascade or f"cascade_wide_{setting}") / "model.pt")
        self.image_model_path = str(
            self.image_bundle_dir / "models" / "varied" / (image_model or f"dagan_{setting}") / "model.pt"
        )
        overrides = {"mask_type": mask_type, "sampling_fraction": sampling_fraction}
        super().__init__(
            bundle_dir,
            self.BUNDLE_CONFIGS,
            overrides,
            "*_recon.nii.gz",
            "float32",
            "the input's units (the zero-filled image's, or those of the k-space's inverse FFT)",
            "CS-MRI reconstruction (float32) by the shipped cascade_csmri cascade (k-space) or dagan_csmri "
            "DAGAN (image)",
        )
        self.path = [self.cascade_path, self.image_model_path]

    #: the shared CS-MRI layers (under the repository's ``configs/``), then each bundle's own (its ``configs/``)
    SHARED_CONFIGS = ("csmri.json", "csmri_inference.json", "inference_loader.json")
    BUNDLE_CONFIGS = ("common.json", "inference.json")

    def configure(self, input_path: str) -> tuple[list[str], dict[str, Any]]:
        """k-space: the cascade bundle's configs and weights; an image: the DAGAN bundle's (its own ``bundle_root``,
        so neither bundle's configs are read with the other's weights)."""
        kspace = str(input_path).lower().endswith((".npz", ".npy"))
        bundle, ckpt_path = (
            (self.bundle_dir, self.cascade_path) if kspace else (self.image_bundle_dir, self.image_model_path)
        )
        shared = [str(self.bundle_dir.parents[1] / "configs" / n) for n in self.SHARED_CONFIGS]
        own = [str(bundle / "configs" / n) for n in self.BUNDLE_CONFIGS]
        return shared + own, {**self.overrides, "bundle_root": str(bundle), "ckpt_path": ckpt_path}

    uncertainty_description = (
        "uncertainty: |recon - mirrored recon| / 2 in the input's units, the spread of the network "
        "over a left-right flip of the slice (k-space and mask flipped with it; the bundle's "
        "--uncertainty output, FlipSpread)"
    )

    def uncertainty(self, input_path: str, work: str, device_name: str, result: np.ndarray) -> np.ndarray:
        """The bundle's own uncertainty map (``inference.json`` with ``uncertainty: true``, only that pass run)."""
        import nibabel as nib

        folder = os.path.join(work, "uncertainty")
        os.makedirs(folder)
        produced = self.run_bundle(input_path, folder, device_name, extra={"run": ["$@uncertainty_evaluator.run()"]},
                                   output_glob="*_uncertainty.nii.gz")  # fmt: skip
        return np.asarray(nib.load(produced).dataobj, np.float32)


class GenerativeSampleTask(BundleImageTask):
    """Draw ``num_samples`` images from a generative bundle (``vae_mri``, ``gan_mri``) and return them as one stack.

    The bundle is picked by name among ``repo/bundles``; its own sampling configs run (``configs/brain_mr_64.json``,
    ``configs/sampling.json``, the bundle's ``common.json`` and its ``sample.json``, or ``inference.json`` where it
    has no ``sample.json``) with the request's ``num_samples`` and ``seed``. The result is float32, the generator's
    intensities (about [0, 1]), ``(H, W, num_samples)`` with 1 mm pixels: sample ``k`` is slice ``k``. MONAI Label's
    infer endpoint wants an image with every call; this task ignores it (send any study id).

    Args:
        repo: the repository root (holds ``configs/`` and ``bundles/``).
        bundle: the bundle's folder name under ``bundles/``.
        max_samples: the most samples one request may ask for.
    """

    def __init__(self, repo: str | os.PathLike, bundle: str = "vae_mri", max_samples: int = 256) -> None:
        repo = Path(repo).resolve()
        bundle_dir = repo / "bundles" / bundle
        if not (bundle_dir / "configs" / "common.json").is_file():
            raise ValueError(
                f"no bundle {bundle!r} under {repo / 'bundles'}; name a generative bundle: vae_mri or gan_mri."
            )
        own = "sample.json" if (bundle_dir / "configs" / "sample.json").is_file() else "inference.json"
        super().__init__(bundle_dir, ["common.json", own], {}, "sample_*.nii.gz", "float32",
                         "the generator's intensities (about [0, 1], as its training images)",
                         f"samples of the shipped {bundle} generator (a float32 stack of 2D images)")  # fmt: skip
        self.config_files = [str(repo / "configs" / "brain_mr_64.json"), str(repo / "configs" / "sampling.json"),
                             *self.config_files]  # fmt: skip
        self.max_samples = max_samples

    def sample_settings(self, request: Mapping[str, Any]) -> tuple[int, int]:
        """``(num_samples, seed)`` of the request (defaults 8 and 0), checked."""
        settings = []
        for key, default, low, high in (("num_samples", 8, 1, self.max_samples), ("seed", 0, 0, 2**31 - 1)):
            value = request.get(key, default)
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = None
            if number is None or isinstance(value, bool) or number != float(value) or not low <= number <= high:
                raise ValueError(f"{key} must be an integer in [{low}, {high}], got {value!r}.")
            settings.append(number)
        return settings[0], settings[1]

    def __call__(self, request: Mapping[str, Any], callbacks=None) -> tuple[str, dict[str, Any]]:
        import nibabel as nib

        begin = time.time()
        num_samples, seed = self.sample_settings(request)
        weights = self.path[-1]
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"the {self.bundle_dir.name} bundle has no weights at {weights}: train it (its "
                                    f"docs/README.md) or ship them, then restart the server.")  # fmt: skip
        device_name = self.device_name(request)
        with tempfile.TemporaryDirectory(prefix="genmed_sample_") as work:
            start = time.time()
            self.run_bundle("", work, device_name, extra={
                "num_samples": num_samples, "sample_seed": seed, "output_ext": ".nii.gz"})  # fmt: skip
            latency_bundle = time.time() - start
            files = sorted(glob.glob(os.path.join(work, "sample_*.nii.gz")))
            stack = np.stack([np.squeeze(np.asarray(nib.load(f).dataobj, np.float32)) for f in files], -1)
        output_file = self.write_result(stack, np.eye(4), self.result_dtype, request)
        requested = request.get("result_dtype")
        info = {
            "image": f"{len(files)} samples of {self.bundle_dir.name}, seed {seed}: sample k is slice k",
            "result_dtype": self.result_dtype, "requested_result_dtype": requested, "units": self.units,
            "why": (f"the request's result_dtype={requested!r} would cast the intensities to {requested}, so "
                    f"{self.result_dtype} was written") if requested and requested != self.result_dtype else "",
            "volume_type": "scalar", "load_as": "a scalar volume (not a segmentation or label map)",
            "shape": list(stack.shape), "value_range": [float(stack.min()), float(stack.max())],
            "device": device_name, "bundle": self.bundle_dir.name, "weights": os.path.relpath(weights, self.bundle_dir),
            "num_samples": len(files), "seed": seed,
            "latencies": {"bundle": round(latency_bundle, 3), "total": round(time.time() - begin, 3)},
        }  # fmt: skip
        return output_file, info

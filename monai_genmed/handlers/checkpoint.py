"""Atomic, resumable checkpoints of everything a generative run trains.

MONAI's :class:`monai.handlers.CheckpointSaver` writes with Ignite's ``DiskSaver(atomic=False)``, so a run killed
while writing leaves a truncated file. These handlers write to a temporary file in the same folder and move it
into place (``os.replace`` is atomic on POSIX and Windows), so a checkpoint on disk is always whole, and a
restarted run resumes from the newest one.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import stat
from collections.abc import Callable, Mapping
from typing import Any

import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, DiskSaver
from monai.handlers import CheckpointLoader

from .run_state import RandomState, RunFingerprint

__all__ = ["AtomicDiskSaver", "TrainingCheckpointer", "BestModelSaver"]

logger = logging.getLogger(__name__)


class AtomicDiskSaver(DiskSaver):
    """Ignite's atomic ``DiskSaver`` (temporary file + rename), with the usual file permissions.

    Ignite's temporary file is created ``0600``; the saved file gets ``0644`` minus the umask instead, so a
    checkpoint written by one user can be read by a colleague's evaluation job (the reason MONAI gave for
    switching atomic writes off).
    """

    def __init__(self, dirname: str, filename: str | None = None, **kwargs: Any) -> None:
        super().__init__(dirname=dirname, atomic=True, require_empty=False, **kwargs)
        self.fixed_filename = filename

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        name = self.fixed_filename or filename
        super().__call__(checkpoint, name, metadata)
        path = os.path.join(self.dirname, name)
        if os.path.exists(path):  # only the saving rank (Ignite's save_on_rank) wrote it
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(path, (stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH) & ~umask)

    def remove(self, filename: str) -> None:
        if self.fixed_filename is None:  # a fixed name is overwritten in place, never removed
            super().remove(filename)


class TrainingCheckpointer:
    """Save the whole training state every epoch, atomically, and resume from the newest checkpoint.

    The checkpoint holds the engine state (epoch, iteration), every network, optimizer and gradient scaler of
    the trainer (``trainer.checkpoint_objects()`` of :class:`~monai_genmed.engines.GenerativeAdversarialTrainer`,
    else ``{"trainer": engine, "network": engine.network, "optimizer": engine.optimizer}`` of a MONAI
    ``SupervisedTrainer``) plus ``extra_objects`` (learning-rate schedulers, early stopping, best-model saver:
    anything with ``state_dict``/``load_state_dict``), the run's random state (global generators and those of
    the training data's random transforms: a resumed run draws what the uninterrupted one drew) and its
    fingerprint.

    The fingerprint is ``{config_id: value}`` of the settings that define the model (widths, mask type and
    fraction, data scaling, ...). A checkpoint is only resumed by a run with the same fingerprint: other
    settings are an error that lists the differences, so a changed command never continues, and mixes into,
    a run of other settings.

    Args:
        save_dir: folder of the checkpoints (created if needed).
        extra_objects: more stateful objects to save and restore.
        save_interval: save every this many epochs (a finished epoch is never lost with 1).
        n_saved: how many recent checkpoints to keep.
        resume: at start, load the newest checkpoint in ``save_dir`` if there is one.
        filename_prefix: checkpoint file names are ``{prefix}_epoch={N}.pt``.
        fingerprint: the settings that define the model (see above); ``None`` records and checks nothing.
        save_random_state: save and restore the random generators (see above).
    """

    def __init__(
        self,
        save_dir: str,
        extra_objects: Mapping[str, Any] | None = None,
        save_interval: int = 1,
        n_saved: int = 1,
        resume: bool = True,
        filename_prefix: str = "checkpoint",
        fingerprint: Mapping[str, Any] | None = None,
        save_random_state: bool = True,
    ) -> None:
        if save_interval < 1 or n_saved < 1:
            raise ValueError(f"save_interval and n_saved must be >= 1, got {save_interval} and {n_saved}.")
        self.save_dir = os.fspath(save_dir)
        self.extra_objects = dict(extra_objects or {})
        self.save_interval, self.n_saved, self.resume = save_interval, n_saved, resume
        self.filename_prefix = filename_prefix
        self.fingerprint = RunFingerprint(fingerprint) if fingerprint is not None else None
        self.save_random_state = save_random_state
        self.objects: dict[str, Any] = {}
        self.resumed_from: str | None = None

    def _collect(self, engine: Engine) -> dict[str, Any]:
        if hasattr(engine, "checkpoint_objects"):
            objects = dict(engine.checkpoint_objects())
        else:
            objects = {"trainer": engine}
            for name in ("network", "optimizer"):
                if hasattr(engine, name):
                    objects[name] = getattr(engine, name)
        clash = set(objects) & set(self.extra_objects)
        if clash:
            raise ValueError(f"extra_objects reuse names of the trainer's own objects: {sorted(clash)}.")
        objects.update(self.extra_objects)
        if self.fingerprint is not None:
            objects[self.FINGERPRINT] = self.fingerprint
        if self.save_random_state:
            objects[self.RANDOM_STATE] = RandomState([getattr(engine, "data_loader", None)])
        return objects

    #: checkpoint keys of the run's fingerprint and random state
    FINGERPRINT = "run_fingerprint"
    RANDOM_STATE = "random_state"

    def _optional(self) -> set[str]:
        """Objects a checkpoint of an older config may lack: they start fresh (with a warning) instead."""
        return set(self.extra_objects) | {self.FINGERPRINT, self.RANDOM_STATE, "objective"}

    def _check_fingerprint(self, path: str, saved: Mapping[str, Any]) -> None:
        if self.fingerprint is None:
            return
        if self.FINGERPRINT not in saved:
            logger.warning(f"{path} records no run settings (written before fingerprints); resuming it unchecked.")
            return
        diffs = self.fingerprint.differences(saved[self.FINGERPRINT])
        if diffs:
            raise ValueError(
                f"cannot resume from {path!r}: it was written by a run with other settings:\n  "
                + "\n  ".join(diffs)
                + f"\nA checkpoint is only resumed by the run that wrote it. Give the new settings their own folders "
                "(in the bundles: --ckpt_dir and --output_dir), pass the saved settings to resume that run, or "
                f"delete {self.save_dir!r} to start afresh."
            )

    def attach(self, engine: Engine) -> None:
        self.objects = self._collect(engine)
        os.makedirs(self.save_dir, exist_ok=True)
        self.checkpoint = Checkpoint(
            self.objects,
            AtomicDiskSaver(self.save_dir),
            filename_prefix=self.filename_prefix,
            n_saved=self.n_saved,
            global_step_transform=lambda e, _: e.state.epoch,
            filename_pattern="{filename_prefix}_epoch={global_step}.{ext}",
        )
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.save_interval), self.checkpoint)
        if self.resume:
            engine.add_event_handler(Events.STARTED, self._resume)

    def latest(self) -> str | None:
        """Path of the newest checkpoint in ``save_dir`` (highest epoch), or None."""
        pattern = re.compile(re.escape(self.filename_prefix) + r"_epoch=(\d+)\.pt$")
        found = []
        for path in glob.glob(os.path.join(glob.escape(self.save_dir), f"{self.filename_prefix}_epoch=*.pt")):
            match = pattern.search(os.path.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        return max(found)[1] if found else None

    def _resume(self, engine: Engine) -> None:
        path = self.latest()
        if path is None:
            return
        load_dict = dict(self.objects)
        load_dict.pop(self.FINGERPRINT, None)  # compared below, not loaded
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # memory-mapped: no copy
        except Exception as e:
            raise RuntimeError(
                f"could not read checkpoint {path!r} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                f"delete it (or the whole {self.save_dir!r}) to start afresh."
            ) from e
        self._check_fingerprint(path, saved)
        try:
            # objects added to a config after the checkpoint was written (e.g. early stopping's state) start
            # fresh rather than making the run unresumable; the networks and the trainer must be there
            missing_extra = sorted((self._optional() & set(load_dict)) - set(saved))
            for name in missing_extra:
                load_dict.pop(name)
            if missing_extra:
                logger.warning(f"{path} holds no state for {missing_extra}; they start fresh.")
            # the random state goes last: restoring a network or the trainer must not draw from it afterwards
            random_state = load_dict.pop(self.RANDOM_STATE, None)
            CheckpointLoader(load_path=path, load_dict=load_dict, map_location=getattr(engine.state, "device", "cpu"))(engine)
            if random_state is not None:
                random_state.load_state_dict(saved[self.RANDOM_STATE])
        except Exception as e:
            raise RuntimeError(
                f"could not resume from {path!r} ({e}); delete it (or the whole {self.save_dir!r}) to start afresh, "
                "or check that the configuration matches the run that wrote it."
            ) from e
        # Checkpoint keeps track of the files it wrote; teach it the one we resumed from so n_saved is honoured.
        self.checkpoint._saved.append(Checkpoint.Item(priority=engine.state.epoch, filename=os.path.basename(path)))
        self.resumed_from = path
        logger.info(f"resumed from {path} at epoch {engine.state.epoch}, iteration {engine.state.iteration}")


class BestModelSaver:
    """Save a network's weights (a plain ``state_dict``) whenever a validation metric improves, atomically.

    This is the bundle's ``models/model.pt``: what ``inference.json``, ``ckpt_export`` and MONAI Label load.
    With a ``fingerprint`` the file is ``{"model": state_dict, "run_fingerprint": {...}}`` (MONAI's nested
    checkpoint: ``CheckpointLoader(load_dict={"model": net})``, MONAI Label and ``ckpt_export --key_in_ckpt
    model`` read it), so :func:`~monai_genmed.handlers.load_model_weights` can tell a user which settings the
    weights need; without one it is the bare ``state_dict``.

    Args:
        network: the network whose weights to keep.
        save_dir: folder of the file.
        metric_name: key of ``engine.state.metrics`` of the engine it is attached to (a validator).
        mode: ``"min"`` for error metrics (NMSE), ``"max"`` for PSNR/SSIM.
        filename: name of the file.
        fingerprint: the settings that define the model (``{config_id: value}``), stored beside the weights.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        save_dir: str,
        metric_name: str,
        mode: str = "min",
        filename: str = "model.pt",
        fingerprint: Mapping[str, Any] | None = None,
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        self.network, self.save_dir, self.metric_name, self.mode, self.filename = network, save_dir, metric_name, mode, filename
        sign = -1.0 if mode == "min" else 1.0
        self.score_function: Callable[[Engine], float] = lambda engine: sign * float(engine.state.metrics[self.metric_name])
        os.makedirs(save_dir, exist_ok=True)
        to_save: dict[str, Any] = {"model": network}
        if fingerprint is not None:
            to_save[TrainingCheckpointer.FINGERPRINT] = RunFingerprint(fingerprint)
        self.checkpoint = Checkpoint(
            to_save,
            AtomicDiskSaver(save_dir, filename=filename),
            n_saved=1,
            score_function=self.score_function,
            score_name=metric_name,
        )

    @property
    def best_score(self) -> float | None:
        """The best metric value seen so far (in the metric's own sign), or None."""
        saved = self.checkpoint._saved
        if not saved:
            return None
        return saved[-1].priority * (-1.0 if self.mode == "min" else 1.0)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self._save)

    def _save(self, engine: Engine) -> None:
        if self.metric_name not in engine.state.metrics:
            raise KeyError(
                f"BestModelSaver watches metric {self.metric_name!r}, but the engine computed {sorted(engine.state.metrics)}."
            )
        self.checkpoint(engine)  # a single object is written as its bare state_dict; with a fingerprint, nested

    def state_dict(self) -> dict[str, Any]:
        return self.checkpoint.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.checkpoint.load_state_dict(state_dict)

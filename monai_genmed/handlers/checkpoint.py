"""Atomic, resumable checkpoints of everything a generative run trains.

MONAI's :class:`monai.handlers.CheckpointSaver` writes with Ignite's ``DiskSaver(atomic=False)``, so a run killed
while writing leaves a truncated file, and Ignite's ``Checkpoint`` deletes the previous file *before* it writes the
next one, so a kill during that write leaves no checkpoint at all. Here every file is written to a temporary beside
it, flushed to the disk and renamed into place (``os.replace`` is atomic on POSIX and Windows), and the file it
replaces is deleted only after that: at any moment the folder holds at least one whole checkpoint. A restarted run
removes the temporaries of killed writers and resumes from the newest checkpoint it can read.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, DiskSaver
from monai.handlers import CheckpointLoader

from monai_genmed.utils.io import FolderLock, atomic_path, fsync_folder, remove_stale_temporaries

from .run_state import RandomState, RunFingerprint

__all__ = ["AtomicDiskSaver", "TrainingCheckpointer", "BestModelSaver"]

logger = logging.getLogger(__name__)


def _save(obj: Any, path: str) -> None:
    """``torch.save`` to ``path``; one name for the write, so a test can kill a run inside it."""
    torch.save(obj, path)


class AtomicDiskSaver(DiskSaver):
    """A ``DiskSaver`` whose files are always whole and whose old files outlive the write of their successor.

    A file is written to ``{name}.tmp{pid}`` in the same folder, flushed (``fsync``) and renamed into place. Ignite's
    ``Checkpoint`` asks to remove the file a new one replaces *before* it saves the new one; the removal is deferred
    until the new file is in place, so a kill during the write leaves the previous checkpoint. With a fixed
    ``filename`` (``model.pt``) the rename replaces the old file in one step. Temporaries that killed writers left
    in the folder are deleted when the saver is made. Files get the usual permissions (``0644`` minus the umask), so
    a checkpoint written by one user can be read by a colleague's evaluation job.

    Args:
        dirname: the folder of the files (created if needed).
        filename: a fixed file name that every save overwrites; ``None`` uses the name ``Checkpoint`` gives.
        kwargs: more arguments of Ignite's ``DiskSaver`` (``save_on_rank``).
    """

    def __init__(self, dirname: str, filename: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("atomic", None)
        super().__init__(dirname=dirname, atomic=True, require_empty=False, **kwargs)
        self.fixed_filename = filename
        self._superseded: list[str] = []
        if idist.get_rank() == self.save_on_rank:
            for path in remove_stale_temporaries(self.dirname):
                logger.info(f"removed {path}, a file that a killed run was writing")

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        if idist.get_rank() != self.save_on_rank:
            return
        name = self.fixed_filename or filename
        with atomic_path(os.path.join(self.dirname, name)) as tmp:
            _save(checkpoint, tmp)
        # only now that the new file is whole and in place may the ones it supersedes go
        superseded, self._superseded = [n for n in self._superseded if n != name], []
        for old in superseded:
            try:
                os.remove(os.path.join(self.dirname, old))
            except FileNotFoundError:
                pass
        if superseded:
            fsync_folder(self.dirname)

    def remove(self, filename: str) -> None:
        if self.fixed_filename is None:  # a fixed name is replaced by the rename, never removed
            self._superseded.append(filename)


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

    A kill at any moment loses no finished epoch: the checkpoint of an epoch is the last thing that epoch does (after
    validation, the best-model file and the metrics row), it is written atomically, and the previous one is deleted
    only once it is in place. At start the run takes a lock on ``save_dir`` (a second training into the same folder
    is refused, naming the process that holds it), removes the temporaries of killed writers, and resumes from the
    newest checkpoint it can read (an unreadable newest file is named and the one before it used).

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
        self.lock = FolderLock(self.save_dir)
        self.checkpoint = Checkpoint(
            self.objects,
            AtomicDiskSaver(self.save_dir),
            filename_prefix=self.filename_prefix,
            n_saved=self.n_saved,
            global_step_transform=lambda e, _: e.state.epoch,
            filename_pattern="{filename_prefix}_epoch={global_step}.{ext}",
        )
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.EPOCH_STARTED, self._register_saving_last)
        engine.add_event_handler(Events.COMPLETED, lambda _: self.lock.release())

    def _start(self, engine: Engine) -> None:
        if idist.get_rank() == 0:  # the processes of one distributed run share the folder: rank 0 holds it
            self.lock.acquire("this training")
            for path in remove_stale_temporaries(self.save_dir):
                logger.info(f"removed {path}, a checkpoint that a killed run was writing")
        if self.resume:
            self._resume(engine)

    def _register_saving_last(self, engine: Engine) -> None:
        """Save after every other epoch-end handler: handlers attached during ``STARTED`` (the metrics row) included.

        A checkpoint of epoch N then implies that everything epoch N writes (validation, ``model.pt``, the metrics
        row) is on disk: a kill between those writes and the checkpoint repeats epoch N, and never skips its row.
        """
        saving = Events.EPOCH_COMPLETED(every=self.save_interval)
        if not engine.has_event_handler(self.checkpoint):
            engine.add_event_handler(saving, self.checkpoint)

    def checkpoints(self) -> list[tuple[int, str]]:
        """``(epoch, path)`` of every checkpoint in ``save_dir``, oldest first."""
        pattern = re.compile(re.escape(self.filename_prefix) + r"_epoch=(\d+)\.pt$")
        found = []
        for path in glob.glob(os.path.join(glob.escape(self.save_dir), f"{self.filename_prefix}_epoch=*.pt")):
            match = pattern.search(os.path.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def latest(self) -> str | None:
        """Path of the newest checkpoint in ``save_dir`` (highest epoch), or None."""
        found = self.checkpoints()
        return found[-1][1] if found else None

    def _read_newest(self) -> tuple[str, Mapping[str, Any]] | None:
        """The newest checkpoint that can be read, falling back past damaged ones (each named in a warning)."""
        damaged = []
        for _, path in reversed(self.checkpoints()):
            try:
                return path, torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # mapped: no copy
            except Exception as e:
                reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                logger.warning(f"cannot read checkpoint {path!r} ({reason}); trying the one before it.")
                damaged.append(f"{path!r} ({reason})")
        if damaged:
            raise RuntimeError(
                f"no checkpoint in {self.save_dir!r} can be read: {'; '.join(damaged)}. Delete them (or the whole "
                "folder) to start afresh."
            )
        return None

    def _resume(self, engine: Engine) -> None:
        newest = self._read_newest()
        if newest is None:
            return
        path, saved = newest
        load_dict = dict(self.objects)
        load_dict.pop(self.FINGERPRINT, None)  # compared below, not loaded
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
            CheckpointLoader(load_path=path, load_dict=load_dict, map_location=getattr(engine.state, "device", "cpu"))(
                engine
            )
            if random_state is not None:
                random_state.load_state_dict(saved[self.RANDOM_STATE])
        except Exception as e:
            raise RuntimeError(
                f"could not resume from {path!r} ({e}); delete it (or the whole {self.save_dir!r}) to start afresh, "
                "or check that the configuration matches the run that wrote it."
            ) from e
        # Checkpoint keeps track of the files it wrote; teach it the ones on disk up to the resumed one (a kill
        # between a save and the deletion it allows leaves an older file), so they rotate out as n_saved says.
        on_disk = [
            Checkpoint.Item(epoch, os.path.basename(p))
            for epoch, p in self.checkpoints()
            if epoch <= engine.state.epoch
        ]
        self.checkpoint._saved[:] = on_disk[-self.n_saved :]
        self.checkpoint.save_handler._superseded.extend(item.filename for item in on_disk[: -self.n_saved])
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
        limits: ``{metric: largest allowed value}`` of other metrics of the same engine (e.g. a GAN's
            ``{"val_diversity_gap": 0.05}``): a validation within every limit beats any that is not, so the file
            holds the best ``metric_name`` among the validations within the limits, or, until one is, the best
            among all (a run always leaves a model). None: ``metric_name`` alone.
    """

    #: added to the priority of a validation outside ``limits`` (no metric here comes near it)
    OUTSIDE_LIMITS = 1e9

    def __init__(
        self,
        network: torch.nn.Module,
        save_dir: str,
        metric_name: str,
        mode: str = "min",
        filename: str = "model.pt",
        fingerprint: Mapping[str, Any] | None = None,
        limits: Mapping[str, float] | None = None,
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        self.limits = {str(k): float(v) for k, v in (limits or {}).items()}
        self.network, self.save_dir, self.metric_name, self.mode, self.filename = (
            network,
            save_dir,
            metric_name,
            mode,
            filename,
        )
        sign = -1.0 if mode == "min" else 1.0
        self.score_function: Callable[[Engine], float] = lambda engine: (
            sign * float(engine.state.metrics[self.metric_name])
            - (0.0 if self.within_limits(engine) else self.OUTSIDE_LIMITS)
        )
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
        priority = saved[-1].priority
        if priority < -self.OUTSIDE_LIMITS / 2:
            priority += self.OUTSIDE_LIMITS
        return priority * (-1.0 if self.mode == "min" else 1.0)

    def within_limits(self, engine: Engine) -> bool:
        """Whether every metric of ``limits`` is at most its limit in this validation."""
        return all(float(engine.state.metrics[name]) <= limit for name, limit in self.limits.items())

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self._save)

    def _save(self, engine: Engine) -> None:
        if self.metric_name not in engine.state.metrics:
            raise KeyError(
                f"BestModelSaver watches metric {self.metric_name!r}, "
                f"but the engine computed {sorted(engine.state.metrics)}."
            )
        missing = sorted(set(self.limits) - set(engine.state.metrics))
        if missing:
            raise KeyError(
                f"BestModelSaver limits {missing}, but the engine computed {sorted(engine.state.metrics)}: add them "
                "to the validator's additional_metrics, or drop them from limits."
            )
        self.checkpoint(engine)  # a single object is written as its bare state_dict; with a fingerprint, nested

    def state_dict(self) -> dict[str, Any]:
        return self.checkpoint.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.checkpoint.load_state_dict(state_dict)

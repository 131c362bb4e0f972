"""A run killed at any moment loses no finished epoch, in every bundle.

The kills are real: the training runs in a child process (a fork where the test injects a kill into the child, a
fresh interpreter for the kill loop's plain trainings) that is ended with ``SIGKILL`` or ``os._exit`` inside a
checkpoint write, as an out-of-memory kill or a pre-empted job would end it: no ``finally`` block, no exit handler
runs. After each kill the run is resumed with the same command, and its final weights must equal those of a run that
was never stopped.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import tqdm

import monai_genmed.handlers.checkpoint as checkpoint_module
from monai_genmed.utils import FolderLockedError

sys.path.insert(0, str(Path(__file__).parent))  # pytest imports tests by path (importlib mode): share the catalogue
from test_bad_inputs import BUNDLES, BundleSpec, _train, expect  # noqa: E402

# the diffusion bundle joins the kill tests here (the rest of the bad-input catalogue does not fit a sampler yet)
DDPM = BundleSpec(
    name="ddpm_mri",
    train={"unet_channels": [8, 8, 8], "norm_num_groups": 4, "num_head_channels": 8, "num_train_timesteps": 50,
           "spatial_size": [64, 64], "num_subjects": {"training": 1, "validation": 1, "test": 1},
           "slices_per_subject": 4, "batch_size": 2, "passes_per_epoch": 1, "val_interval": 1, "val_inference_steps": 2,
           "fd_num_samples": 8, "grid_samples": 4, "device_name": "cpu"},
    infer={}, image_key="image", changed_setting={"num_train_timesteps": 20}, other_widths={}, make_input=None,
    discriminator=None, configs_first=("configs/brain_mr_64.json", "configs/training.json", "common.json"),
)  # fmt: skip
FORK = multiprocessing.get_context("fork")
EPOCHS = 3


def _in_child(target, *args: Any) -> multiprocessing.Process:
    """Start ``target(*args)`` in a forked process, quietly (its log would interleave with pytest's)."""

    def main() -> None:
        torch.set_num_threads(1)  # as DataLoader workers do: the parent's OpenMP pool is not the child's
        # a lock another thread of the parent held at the fork (tqdm's monitor thread) would hang the progress bar
        tqdm.tqdm.set_lock(tqdm.std.TqdmDefaultWriteLock())
        log = os.open(os.environ.get("KILL_TEST_CHILD_LOG", os.devnull), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        target(*args)
        os._exit(0)

    process = FORK.Process(target=main, daemon=True)
    process.start()
    return process


# a training in a fresh interpreter: a fork of the test worker inherits whatever locks its other threads held at the
# fork (after many in-process trainings, CI once saw every child of the kill loop hang that way)
_RUN = "import json, sys; from monai.bundle import run; run(**json.loads(sys.argv[1]))"


class _TrainingChild:
    """``_train(spec, root, **overrides)`` in a new Python process, with the kill loop's view of a child."""

    def __init__(self, spec: BundleSpec, root: Path, **overrides: Any) -> None:
        args = {"config_file": spec.config("train.json"), "bundle_root": str(root), **spec.train, **overrides}
        log = open(os.environ.get("KILL_TEST_CHILD_LOG", os.devnull), "a")  # noqa: SIM115 (the child's log)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread, as the runs it is compared with
        self.process = subprocess.Popen([sys.executable, "-c", _RUN, json.dumps(args)], stdout=log, stderr=log, env=env)
        self.pid = self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def join(self, timeout: float | None = None) -> None:
        self.process.wait(timeout)

    @property
    def exitcode(self) -> int | None:
        return self.process.returncode


def _settings(spec: BundleSpec, dataset: Path, **overrides: Any) -> dict[str, Any]:
    # every epoch improves on the tiny data slowly: the divergence guard must not end the runs compared here
    return {spec.dataset_key: str(dataset), "epochs": EPOCHS, "divergence_patience": 100, **overrides}


def _no_early_stop(spec: BundleSpec) -> dict[str, Any]:
    """The kill loop's long run must not end early because the tiny model stopped improving."""
    return {"early_stop_patience": 10_000} if spec.name == "dagan_csmri" else {}


def _networks(path: Path) -> dict[str, torch.Tensor]:
    saved = torch.load(path, weights_only=True)
    return {f"{k}.{n}": v for k, state in saved.items() if k.startswith("network_") for n, v in state.items()}


def _assert_same_weights(reference: Path, resumed: Path) -> None:
    expected, got = _networks(reference), _networks(resumed)
    assert expected and expected.keys() == got.keys()
    for name, value in expected.items():
        assert torch.equal(value, got[name]), f"{name} differs from the uninterrupted run"


def _epochs_in_csv(root: Path) -> list[int]:
    path = root / "logs" / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name) if folder.is_dir() else []


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Children run on one thread (see ``_in_child``); so does every run they are compared with: another thread
    count sums in another order, and weights would differ in the last bit for that reason alone."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=[*BUNDLES, DDPM], ids=lambda s: s.name)
def straight(request, tmp_path_factory):
    """A bundle's tiny dataset and an uninterrupted run of ``EPOCHS`` epochs on it."""
    spec: BundleSpec = request.param
    root = tmp_path_factory.mktemp(f"{spec.name}_straight")
    real_save, writes = checkpoint_module._save, []

    def counting_save(obj: Any, path: str) -> None:
        writes.append(os.path.basename(path).split(".tmp")[0])
        real_save(obj, path)

    checkpoint_module._save = counting_save
    try:
        _train(spec, root, epochs=EPOCHS, divergence_patience=100)
    finally:
        checkpoint_module._save = real_save
    dataset = next(p.parent for p in root.glob("data/*/datalist.json"))
    return spec, dataset, root, writes


def _kill_inside_write(file_name: str, occurrence: int):
    """A ``_save`` that writes half of the ``occurrence``-th file called ``file_name`` and dies there."""
    real_save, calls = checkpoint_module._save, []

    def save(obj: Any, path: str) -> None:
        if os.path.basename(path).startswith(file_name + ".tmp"):
            calls.append(path)
            if len(calls) == occurrence:
                buffer = io.BytesIO()
                torch.save(obj, buffer)
                with open(path, "wb") as f:
                    f.write(buffer.getvalue()[: buffer.tell() // 2])
                os._exit(137)  # as SIGKILL: nothing below runs, the half-written temporary stays
        real_save(obj, path)

    return save


@pytest.mark.parametrize("target", ["checkpoint_epoch=2.pt", "model.pt"])
def test_a_kill_inside_a_save_loses_no_finished_epoch(straight, tmp_path, target):
    """Killed while writing epoch 2's checkpoint, or while writing ``model.pt`` for the last time the uninterrupted
    run did (the best epoch depends on the bundle), then resumed: the uninterrupted run's weights and rows."""
    spec, dataset, reference, writes = straight
    settings = _settings(spec, dataset)
    root = tmp_path / "killed"
    occurrence = writes.count(target) if target == "model.pt" else 1
    before = writes[: [i for i, w in enumerate(writes) if w == target][occurrence - 1]]  # whole files before the kill

    def killed_run() -> None:
        checkpoint_module._save = _kill_inside_write(target, occurrence)
        _train(spec, root, **settings)

    for _ in range(3):  # a forked child that hangs on a lock its parent's threads held is started again
        child = _in_child(killed_run)
        child.join(120)
        if child.exitcode is not None:
            break
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        shutil.rmtree(root, ignore_errors=True)
    assert child.exitcode == 137, f"the run was not killed inside the write of {target} (exit {child.exitcode})"
    checkpoints = root / "models" / "checkpoints"
    assert _leftovers(checkpoints) + _leftovers(root / "models")  # the kill left a half-written temporary
    saved = sorted(p.name for p in checkpoints.glob("*.pt"))
    if any(w.startswith("checkpoint") for w in before):
        assert saved, "the kill lost every checkpoint"
        torch.load(checkpoints / saved[-1], weights_only=True)  # the newest one on disk is whole
    if "model.pt" in before:
        torch.load(root / "models" / "model.pt", weights_only=True)  # the previous best model survived

    _train(spec, root, **settings)  # the same command again
    assert _leftovers(checkpoints) == [] and _leftovers(root / "models") == []
    assert sorted(p.name for p in checkpoints.glob("*.pt")) == [f"checkpoint_epoch={EPOCHS}.pt"]
    assert _epochs_in_csv(root) == list(range(1, EPOCHS + 1))
    _assert_same_weights(reference / "models" / "checkpoints" / f"checkpoint_epoch={EPOCHS}.pt",
                         checkpoints / f"checkpoint_epoch={EPOCHS}.pt")  # fmt: skip
    best_expected = torch.load(reference / "models" / "model.pt", weights_only=True)
    best_got = torch.load(root / "models" / "model.pt", weights_only=True)
    for name, value in best_expected["model"].items():
        assert torch.equal(value, best_got["model"][name]), f"model.pt's {name} differs from the uninterrupted run"


def test_a_second_training_into_the_same_folder_is_refused_at_once(straight, tmp_path):
    spec, dataset, _, _ = straight
    root = tmp_path / "shared"
    settings = _settings(spec, dataset, epochs=10_000)
    first = _TrainingChild(spec, root, **settings)
    try:
        lock = root / "models" / "checkpoints" / ".lock"
        deadline = time.time() + 60
        while not (lock.exists() and lock.read_text().startswith(f"pid {first.pid}")):
            assert time.time() < deadline and first.is_alive(), "the first training did not start"
            time.sleep(0.05)
        started = time.perf_counter()
        expect(lambda: _train(spec, root, **settings), (FolderLockedError,),
               str(root / "models" / "checkpoints"), f"pid {first.pid}", "--ckpt_dir")  # fmt: skip
        assert time.perf_counter() - started < 30  # refused before it trains, not after an epoch
        assert first.is_alive()  # the refused run did not disturb the running one
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.join()
    _train(spec, root, **_settings(spec, dataset))  # once the holder is dead, the folder is free again


def test_thirty_random_kills_lose_no_finished_epoch(tmp_path):
    """The kill loop: SIGKILL at random moments that span epoch ends, then resume, until the run ends.

    The moments follow the run, not the clock (the machine's load changes what a second is): most kills land within
    one and a half epochs after the child's first new metrics row, so they hit that epoch's checkpoint write, the
    next epoch's training, validation, row and checkpoint; a fifth land during the start (config, data, resume).
    """
    spec = next(s for s in BUNDLES if s.name == "dagan_csmri")
    reference = tmp_path / "straight"
    epochs = 80  # 30 kills of one or two epochs' progress each leave some: the loop ends by its kill count
    _train(spec, reference, epochs=2, divergence_patience=100, **_no_early_stop(spec))  # the data
    dataset = next(p.parent for p in reference.glob("data/*/datalist.json"))
    settings = _settings(spec, dataset, epochs=epochs, **_no_early_stop(spec))
    _train(spec, reference, **settings)
    root = tmp_path / "killed"
    checkpoints = root / "models" / "checkpoints"
    rng = random.Random(0)
    kills, progress, in_write, row_ahead, during_start = 0, [], 0, 0, 0
    while kills < 30:
        rows_before = len(_epochs_in_csv(root))
        child = _TrainingChild(spec, root, **settings)
        if rng.random() < 0.2:  # during the start
            time.sleep(rng.uniform(0.0, 0.5))
            during_start += 1
        else:
            deadline = time.perf_counter() + 120  # a child hung on a lock its parent held at the fork is killed too
            while child.is_alive() and len(_epochs_in_csv(root)) <= rows_before and time.perf_counter() < deadline:
                time.sleep(0.002)
            if len(_epochs_in_csv(root)) > rows_before:
                recent = [float(r["seconds"]) for r in csv.DictReader(open(root / "logs" / "metrics.csv"))][-3:]
                time.sleep(rng.uniform(0.0, 1.5 * sum(recent) / len(recent)))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        if child.exitcode != -signal.SIGKILL:
            assert child.exitcode == 0, f"the run failed (exit {child.exitcode}) after {kills} kills"
            break  # the run ended before the kill
        kills += 1
        in_write += bool(_leftovers(checkpoints) + _leftovers(root / "models") + _leftovers(root / "logs"))
        saved = sorted(int(p.stem.split("=")[1]) for p in checkpoints.glob("checkpoint_epoch=*.pt"))
        if saved:
            torch.load(checkpoints / f"checkpoint_epoch={saved[-1]}.pt", weights_only=True)  # whole
            rows = _epochs_in_csv(root)
            # every epoch up to the newest checkpoint has its row once; the epoch after it may have its row too
            # (killed between the row and the checkpoint): the resumed run writes it again
            assert rows[: saved[-1]] == list(range(1, saved[-1] + 1)) and len(rows) <= saved[-1] + 1
            progress.append(saved[-1])
            row_ahead += len(rows) == saved[-1] + 1
    assert kills == 30, f"the run ended after {kills} kills: give it more epochs"
    assert progress == sorted(progress) and 0 < progress[-1] < epochs  # kills never moved it back, and spanned epochs
    print(
        f"kill loop: {kills} kills ({during_start} during a start); {in_write} left a half-written file, "
        f"{row_ahead} landed between an epoch's row and its checkpoint; checkpoints reached: {progress}"
    )
    _train(spec, root, **settings)
    assert _epochs_in_csv(root) == list(range(1, epochs + 1))
    assert _leftovers(checkpoints) == [] and _leftovers(root / "models") == [] and _leftovers(root / "logs") == []
    _assert_same_weights(reference / "models" / "checkpoints" / f"checkpoint_epoch={epochs}.pt",
                         checkpoints / f"checkpoint_epoch={epochs}.pt")  # fmt: skip

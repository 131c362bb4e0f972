"""configs/generative_multi_gpu_train.json under torchrun: 2 CPU processes (gloo) end with equal weights.

The overlay serves autoencoder_mri, vae_mri and gan_mri (their configs name the handlers every rank needs
``train#rank_handlers`` and ``validate#rank_handlers``); each process trains on its half of every epoch and the
gradients of every step group are averaged (GradientAllReduce), so both must hold the same networks at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

DATA = {"spatial_size": [64, 64], "num_subjects": {"training": 1, "validation": 1, "test": 1}, "slices_per_subject": 4,
        "batch_size": 1, "epochs": 1}  # fmt: skip
BUNDLES = {
    "vae_mri": (["configs/brain_mr_64.json", "configs/autoencoder.json", "common.json", "train.json"],
                {"channels": [4, 8], "strides": [2, 2], "num_figure_samples": 2, "divergence_patience": 100}),
    "gan_mri": (["configs/brain_mr_64.json", "common.json", "train.json"],
                {"generator_channels": [16, 8, 8, 4], "discriminator_channels": [4, 8, 8, 16], "latent_size": 8,
                 "passes_per_epoch": 1, "fd_num_samples": 8, "grid_samples": 2, "monitor_log_every": 1}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_two_processes_end_with_identical_weights(repo_root, tmp_path, name):
    files, tiny = BUNDLES[name]
    overlay = {
        **DATA,
        **tiny,
        "bundle_root": str(tmp_path),
        "finalize": [
            "$torch.save({k: v.state_dict() for k, v in @train#trainer.networks.items()}, "
            f"'{tmp_path}/rank' + str(dist.get_rank()) + '.pt')",
            "$dist.is_initialized() and dist.destroy_process_group()",
        ],
    }
    (tmp_path / "overlay.json").write_text(json.dumps(overlay))
    files = [str(repo_root / f) if f.startswith("configs/") else str(repo_root / "bundles" / name / "configs" / f) for f in files]
    files += [str(repo_root / "configs" / "generative_multi_gpu_train.json"), str(tmp_path / "overlay.json")]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "monai.bundle",
               "run", "--config_file", str(files)]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert set(ranks[0]) == set(ranks[1]) and ranks[0]
    for net in ranks[0]:
        for key, value in ranks[0][net].items():
            assert torch.equal(value, ranks[1][net][key]), f"{net}.{key} differs between the ranks"
    assert (tmp_path / "models" / "checkpoints" / "checkpoint_epoch=1.pt").is_file()
    drawn = "gan_curves.png" if name == "gan_mri" else "figures/latent_pca.png"
    assert (tmp_path / "logs" / drawn).is_file()  # rank 0 drew the pictures

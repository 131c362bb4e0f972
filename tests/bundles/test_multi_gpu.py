"""The multi-GPU overlay under torchrun: 2 CPU processes (gloo) end with equal weights, for every bundle.

Each process trains on its half of every epoch (DistributedSampler) and the gradients of every step group are
averaged (GradientAllReduce), so both must hold the same networks at the end, bit for bit. Every bundle layers the
one overlay, configs/multi_gpu_train.json, on its unchanged training configs, which name the handlers every rank
needs ``train#rank_handlers`` and ``validate#rank_handlers`` (rank 0 alone adds the logging handlers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

TINY_DATA = {"num_subjects": {"training": 1, "validation": 1, "test": 1}, "slices_per_subject": 4, "batch_size": 1,
             "epochs": 1}  # fmt: skip
D = "bundles/dagan_csmri/configs/"
C = "bundles/cyclegan_mr2ct/configs/"
K = "bundles/cascade_csmri/configs/"
MULTI = "configs/multi_gpu_train.json"
#: bundle -> (config files relative to the repository, tiny overrides, a file rank 0 must have drawn)
BUNDLES = {
    "dagan_csmri": (
        [
            "configs/csmri.json",
            "configs/csmri_train.json",
            "configs/training.json",
            D + "common.json",
            D + "train.json",
            MULTI,
        ],
        {
            "spatial_size": [32, 32],
            "num_workers": 0,
            "generator_channels": [8, 16, 32],
            "generator_up_channels": [32, 16, 8],
            "discriminator_channels": [8, 16],
            "discriminator_head_channels": [16, 8],
            "discriminator_residual_channels": 4,
            "divergence_patience": 100,
        },
        None,
    ),
    "cascade_csmri": (
        [
            "configs/csmri.json",
            "configs/csmri_train.json",
            "configs/training.json",
            "configs/csmri_pixel_loss.json",
            K + "common.json",
            K + "train.json",
            MULTI,
        ],
        {
            "spatial_size": [32, 32],
            "num_workers": 0,
            "cascades": 2,
            "cascade_channels": 4,
            "cascade_depth": 3,
            "discriminator_channels": [8, 16],
            "discriminator_head_channels": [16, 8],
            "discriminator_residual_channels": 4,
            "divergence_patience": 100,
            "ckpt_dir": "$@bundle_root + '/models'",
        },
        None,
    ),
    "cyclegan_mr2ct": (
        [C + "common.json", "configs/training.json", C + "train.json", MULTI],
        {
            "spatial_size": [32, 32],
            "num_workers": 0,
            "generator_channels": 8,
            "generator_res_blocks": 1,
            "discriminator_channels": 8,
        },
        None,
    ),
    "vae_mri": (
        [
            "configs/brain_mr_64.json",
            "configs/training.json",
            "configs/autoencoder.json",
            "bundles/vae_mri/configs/common.json",
            "bundles/vae_mri/configs/train.json",
            MULTI,
        ],
        {
            "spatial_size": [64, 64],
            "channels": [4, 8],
            "strides": [2, 2],
            "num_figure_samples": 2,
            "divergence_patience": 100,
        },
        "figures/latent_pca.png",
    ),
    "gan_mri": (
        [
            "configs/brain_mr_64.json",
            "configs/training.json",
            "bundles/gan_mri/configs/common.json",
            "bundles/gan_mri/configs/train.json",
            MULTI,
        ],
        {
            "spatial_size": [64, 64],
            "generator_channels": [16, 8, 8, 4],
            "discriminator_channels": [4, 8, 8, 16],
            "latent_size": 8,
            "passes_per_epoch": 1,
            "fd_num_samples": 8,
            "grid_samples": 2,
            "monitor_log_every": 1,
        },
        "gan_curves.png",
    ),
}


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_two_processes_end_with_identical_weights(repo_root, tmp_path, name):
    files, tiny, drawn = BUNDLES[name]
    overlay = {
        **TINY_DATA,
        **tiny,
        "bundle_root": str(tmp_path),
        "finalize": [
            "$torch.save({k: v.state_dict() for k, v in @train#trainer.networks.items()}, "
            f"'{tmp_path}/rank' + str(torch.distributed.get_rank()) + '.pt')",
            "$monai_genmed.utils.end_process_group()",
        ],
    }
    (tmp_path / "overlay.json").write_text(json.dumps(overlay))
    configs = [str(repo_root / f) for f in files] + [str(tmp_path / "overlay.json")]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "monai.bundle", "run", "--config_file", str(configs)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert set(ranks[0]) == set(ranks[1]) and ranks[0]
    for net in ranks[0]:
        for key, value in ranks[0][net].items():
            assert torch.equal(value, ranks[1][net][key]), f"{net}.{key} differs between the ranks"
    assert (tmp_path / "models" / "checkpoints" / "checkpoint_epoch=1.pt").is_file()  # rank 0 checkpointed
    if drawn:
        assert (tmp_path / "logs" / drawn).is_file()  # rank 0 drew the pictures

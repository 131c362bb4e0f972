"""multi_gpu_train.json of every adversarial bundle under torchrun: 2 CPU processes (gloo) end with equal weights.

Each process trains on its half of every epoch (DistributedSampler) and the gradients of every step group are
averaged (GradientAllReduce), so both must hold the same networks at the end, bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

BUNDLES = {
    "dagan_csmri": (
        ["train.json", "multi_gpu_train.json"],
        {"spatial_size": [32, 32], "num_subjects": {"training": 1, "validation": 1, "test": 1}, "slices_per_subject": 4,
         "batch_size": 1, "num_workers": 0, "epochs": 1, "generator_channels": [8, 16, 32],
         "generator_up_channels": [32, 16, 8], "discriminator_channels": [8, 16], "discriminator_head_channels": [16, 8],
         "discriminator_residual_channels": 4, "divergence_patience": 100},
    ),
    "cyclegan_mr2ct": (
        ["common.json", "train.json", "multi_gpu_train.json"],
        {"spatial_size": [32, 32], "num_subjects": {"training": 1, "validation": 1, "test": 1}, "slices_per_subject": 4,
         "batch_size": 1, "num_workers": 0, "epochs": 1, "generator_channels": 8, "generator_res_blocks": 1,
         "discriminator_channels": 8},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_two_processes_end_with_identical_weights(repo_root, tmp_path, name):
    files, tiny = BUNDLES[name]
    overlay = {
        **tiny,
        "bundle_root": str(tmp_path),
        "finalize": [
            "$torch.save({k: v.state_dict() for k, v in @train#trainer.networks.items()}, "
            f"'{tmp_path}/rank' + str(dist.get_rank()) + '.pt')",
            "$dist.is_initialized() and dist.destroy_process_group()",
        ],
    }
    (tmp_path / "overlay.json").write_text(json.dumps(overlay))
    configs = [str(repo_root / "bundles" / name / "configs" / f) for f in files] + [str(tmp_path / "overlay.json")]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "monai.bundle",
               "run", "--config_file", str(configs)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert set(ranks[0]) == set(ranks[1]) and len(ranks[0]) >= 2  # generators and discriminators
    for net in ranks[0]:
        for key, value in ranks[0][net].items():
            assert torch.equal(value, ranks[1][net][key]), f"{net}.{key} differs between the ranks"
    assert (tmp_path / "models" / "checkpoints" / "checkpoint_epoch=1.pt").is_file()  # rank 0 checkpointed

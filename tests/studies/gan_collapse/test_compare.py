from __future__ import annotations

import json
from pathlib import Path

from studies.gan_collapse.compare import ComparisonRun, GenerativeComparison

REPO = Path(__file__).resolve().parents[3]
DATA = {"spatial_size": [64, 64], "num_subjects": {"training": 1, "validation": 1, "test": 1}, "slices_per_subject": 4,
        "batch_size": 2, "device_name": "cpu"}  # fmt: skip


def files(*names):
    return [str(REPO / n) for n in names]


def test_a_tiny_comparison_trains_once_and_writes_the_table_and_figures(tmp_path):
    runs = [
        ComparisonRun(
            "vae",
            files(
                "configs/brain_mr_64.json",
                "configs/training.json",
                "configs/autoencoder.json",
                "bundles/vae_mri/configs/common.json",
                "bundles/vae_mri/configs/train.json",
            ),
            {"epochs": 1, "channels": [4, 8], "strides": [2, 2], "num_figure_samples": 2, "divergence_patience": 100},
            kind="autoencoder",
            label="VAE",
        ),  # fmt: skip
        ComparisonRun(
            "minimax",
            files(
                "configs/brain_mr_64.json",
                "configs/training.json",
                "bundles/gan_mri/configs/common.json",
                "bundles/gan_mri/configs/train.json",
            ),
            {
                "epochs": 2,
                "gan_loss_name": "minimax",
                "generator_channels": [16, 8, 8, 4],
                "discriminator_channels": [4, 8, 8, 16],
                "latent_size": 8,
                "passes_per_epoch": 1,
                "fd_num_samples": 8,
                "grid_samples": 2,
                "monitor_log_every": 1,
                "head_start_steps": 2,
            },
            group="head start",
        ),  # fmt: skip
    ]
    comparison = GenerativeComparison(runs, str(tmp_path),
                                      shared_overrides={**DATA, "dataset_dir": str(tmp_path / "data")},
                                      num_samples=6, diversity_pairs=8, grid_samples=4)  # fmt: skip
    table = Path(comparison.run())
    text = table.read_text()
    assert "| VAE |" in text and "| minimax |" in text and "CPU:" in text
    results = json.loads((tmp_path / "results.json").read_text())
    vae, gan = results["runs"]["vae"], results["runs"]["minimax"]
    assert vae["fd_prior"] > 0 and vae["fd_fitted"] > 0 and vae["cpu_seconds"] > 0
    assert gan["head_start_steps"] == 2 and gan["iterations"] == 4 and gan["best_epoch"] in (1, 2)
    assert 0 <= gan["final_d_accuracy"] <= 1 and results["reference"]["real_diversity"] > 0
    for name in ("ae_vs_vae_samples.png", "gan_samples.png", "gan_curves.png", "diversity.png"):
        assert (tmp_path / name).is_file()
    # a second comparison reads the finished runs' numbers instead of training again
    again = GenerativeComparison(runs, str(tmp_path), shared_overrides={**DATA, "dataset_dir": str(tmp_path / "data")},
                                 num_samples=6, diversity_pairs=8, grid_samples=4)  # fmt: skip
    again.run()
    assert again.results["vae"]["cpu_seconds"] == vae["cpu_seconds"]

"""The seeded GAN comparison of studies/gan_losses: runs train through the bundle, summaries rebuild the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from studies.gan_losses.compare import Study, aggregate, cli_value, read_at, write_report

REPO = Path(__file__).resolve().parents[3]
TINY = {"spatial_size": [64, 64], "num_subjects": {"training": 1, "validation": 1, "test": 1}, "slices_per_subject": 4,
        "batch_size": 2, "fd_reference_subjects": 1, "generator_channels": [16, 8, 8, 4],
        "discriminator_channels": [4, 8, 8, 16], "latent_size": 8, "passes_per_epoch": 1, "fd_num_samples": 8,
        "grid_samples": 2, "monitor_log_every": 1}  # fmt: skip


def epochs(fd, steps, cpu=None):
    out = {
        "epoch": list(range(1, len(fd) + 1)),
        "gan_fd": fd,
        "gan_diversity": [0.9] * len(fd),
        "generator_steps": steps,
    }
    if cpu is not None:
        out["gan_cpu_seconds"] = cpu
    return out


def test_a_run_is_read_at_the_last_epoch_within_the_budget_and_not_past_its_end():
    ep = epochs([50.0, 40.0, 30.0, 35.0], [100, 200, 300, 400], cpu=[10.0, 20.0, 30.0, 40.0])
    assert read_at(ep, "generator_steps", 300) == (3, 30.0)
    assert read_at(ep, "generator_steps", 250) == (2, 40.0)
    assert read_at(ep, "gan_cpu_seconds", 45.0) is None  # stopped at 40 s: it never had 45 s
    assert read_at(ep, "generator_steps", 50) is None  # its first epoch already cost more


def test_the_table_gives_the_median_and_range_over_seeds_and_counts_stops():
    runs = [
        {"seed": s, "epoch": {**epochs(fd, [100, 200], cpu=[10.0, 20.0]), "gan_d_accuracy": [0.9, acc],
                              "gan_g_grad_norm": [1.0, 0.1]},
         "generator_steps": 200, "cpu_seconds": 20.0, "stop_reason": stop}
        for s, fd, acc, stop in ((0, [30.0, 10.0], 0.6, None), (1, [40.0, 20.0], 0.7, "FD stalled"),
                                 (2, [50.0, 60.0], 0.8, None))
    ]  # fmt: skip
    cells = aggregate(runs, equal_steps=100, equal_cpu=20.0)["cells"]
    assert cells[0] == "0, 1, 2"
    assert cells[1] == "20.0 (10.0-50.0)"  # best FD per seed: 10, 20, 50
    assert cells[4] == "40.0 (30.0-50.0)"  # at 100 G updates: epoch 1
    assert cells[9] == "0.70 (0.60-0.80)" and cells[-1] == "1/3"


def test_a_diversity_margin_keeps_the_best_fd_among_diverse_epochs_as_the_bundle_does():
    ep = {"epoch": [1, 2, 3, 4], "gan_fd": [30.0, 14.0, 15.1, 15.7], "gan_diversity": [0.70, 0.62, 0.586, 0.578],
          "generator_steps": [1, 2, 3, 4]}  # fmt: skip
    run = {"seed": 0, "epoch": ep, "generator_steps": 4, "diversity_real": 0.537}
    kept = lambda margin: aggregate([run], 1, 1.0, margin)["per_seed"][0]  # noqa: E731
    assert (kept(None)["best_epoch"], kept(None)["best_fd"]) == (2, 14.0)  # FD alone
    assert (kept(0.05)["best_epoch"], kept(0.05)["best_fd"], kept(0.05)["best_diversity"]) == (3, 15.1, 0.586)
    assert kept(0.01)["best_epoch"] == 2  # no epoch within the margin: the best FD of all, as model.pt holds


def test_config_values_on_the_command_line():
    assert [cli_value(v) for v in (None, True, 0.001, [1, 2], "x")] == ["None", "True", "0.001", "[1, 2]", "x"]


@pytest.mark.parametrize("loss", ["wasserstein_gp"])
def test_a_tiny_study_trains_summarizes_and_reports(tmp_path, loss, monkeypatch):
    """Two rows, one seed each: G updates count n_critic, summaries hold the curves, a report is rebuilt from them."""
    monkeypatch.chdir(REPO)
    spec = {
        "config_file": json.loads((REPO / "studies/gan_losses/rows.json").read_text())["config_file"],
        "shared_overrides": {**TINY, "dataset_dir": str(tmp_path / "data"), "device_name": "cpu"},
        "runs_dir": str(tmp_path / "runs"), "results_dir": str(tmp_path / "results"), "threads": 1, "seeds": [0],
        "equal_generator_steps": 2, "equal_cpu_seconds": 1e9,
        "rows": [{"name": "ns", "label": "NS", "group": "g", "overrides": {"epochs": 2}},
                 {"name": "critic", "label": "critic", "group": "g",
                  "overrides": {"epochs": 2, "gan_loss_name": loss, "n_critic": 2}}],
    }  # fmt: skip
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(spec))
    study = Study(str(rows))
    for row, seed in study.queue():
        study.train(row, seed)
    assert study.queue() == []  # summaries written: nothing left to train
    ns = json.loads((tmp_path / "results/ns/seed0.json").read_text())
    critic = json.loads((tmp_path / "results/critic/seed0.json").read_text())
    assert ns["iterations"] == 4 and ns["generator_steps"] == 4 and critic["generator_steps"] == 2
    assert critic["epoch"]["generator_steps"] == [1, 2] and len(ns["epoch"]["gan_fd"]) == 2
    assert all(c > 0 for c in ns["epoch"]["gan_cpu_seconds"]) and "torch threads" not in ns["cpu"]
    assert (tmp_path / "results/ns/seed0_samples.png").is_file()
    table = Path(write_report(Study(str(rows)))).read_text()
    assert "| NS | 0 |" in table and "| critic | 0 |" in table
    assert (tmp_path / "results/curves.png").is_file() and (tmp_path / "results/samples.png").is_file()
    assert "| NS | 0 |" in (tmp_path / "results/table_short.md").read_text()
    assert math.isfinite(json.loads((tmp_path / "results/aggregate.json").read_text())["ns"]["per_seed"][0]["best_fd"])


def test_an_unknown_row_name_is_refused_with_the_names_there_are():
    study = Study(str(REPO / "studies/gan_losses/rows.json"))
    with pytest.raises(ValueError, match="no such rows.*non_saturating"):
        study.queue(only=["non_saturatin"])


def test_a_row_naming_its_own_seeds_trains_only_those_unless_seeds_are_asked_for(tmp_path):
    spec = json.loads((REPO / "studies/gan_losses/rows.json").read_text())
    spec["rows"] = [{"name": "a", "label": "A", "group": "g", "overrides": {}},
                    {"name": "b", "label": "B", "group": "g", "overrides": {}, "seeds": [0]}]  # fmt: skip
    spec["results_dir"], spec["runs_dir"] = str(tmp_path / "results"), str(tmp_path / "runs")
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(spec))
    study = Study(str(rows))
    assert [(r["name"], s) for r, s in study.queue()] == [("a", 0), ("b", 0), ("a", 1), ("a", 2)]
    assert [(r["name"], s) for r, s in study.queue(only=["b"], seeds=[2])] == [("b", 2)]
    (tmp_path / "results/a").mkdir(parents=True)
    (tmp_path / "results/a/seed1.json").write_text("{}")
    assert ("a", 1) not in [(r["name"], s) for r, s in study.queue()]

"""The dagan_csmri study configs find their tools in ``studies/`` (importable from the repository root: the documented
``python -m monai.bundle run`` puts the current directory on Python's path, pytest's ``pythonpath`` setting does it
here)."""

from __future__ import annotations

from monai.bundle import ConfigParser, run

from studies.csmri import margin_tables

from .test_seed_curves import write_run


def test_refinement_study_runs_through_monai_bundle(repo_root, tmp_path):
    runs = tmp_path / "refinement"
    for arm, values in (("on", [26.0, 28.0, 29.0]), ("off", [25.0, 26.0, 27.5])):
        for seed in (0, 1, 2):
            write_run(runs / f"{arm}_seed{seed}" / "metrics.csv", [v + 0.1 * seed for v in values])
    own = [
        str(repo_root / "bundles" / "dagan_csmri" / "configs" / name)
        for name in ("common.json", "refinement_study.json")
    ]
    configs = [str(repo_root / "configs" / "csmri.json"), *own]
    run(config_file=configs, refinement_runs_dir=str(runs), output_dir=str(tmp_path / "out"))
    assert "| refinement on: G(x_u) + x_u | 3 |" in (tmp_path / "out" / "refinement.md").read_text()


def test_evaluate_varied_resolves_margin_tables_from_studies(repo_root):
    shared = [
        str(repo_root / "configs" / f"csmri{part}.json")
        for part in ("", "_evaluate", "_varied_data", "_evaluate_varied")
    ]
    configs = [*shared, str(repo_root / "bundles" / "dagan_csmri" / "configs" / "common.json")]
    parser = ConfigParser()
    parser.read_config(configs)
    assert parser.get_parsed_content("margin_tables") is margin_tables

"""The comparison's results store: resume from a stopped run, reuse other runs' scores only on the same data."""

from __future__ import annotations

import pytest

from monai_genmed.apps.reconstruction.results import ResultsStore, metric_keys, unscored

SETTING = {"mask_type": "gaussian1d", "sampling_fraction": 0.3}


def scores(psnr: float) -> dict[str, float]:
    return {k: psnr if k.startswith("psnr") else 0.5 for k in metric_keys(True)}


def finished_run(folder, zero_filled_psnr=20.0, methods=("zero-filled", "TV"), settings=(SETTING,)) -> ResultsStore:
    store = ResultsStore(str(folder))
    store.open()
    for setting in settings:
        for method in methods:
            psnr = zero_filled_psnr if method == "zero-filled" else 25.0
            for name in ("a", "b"):
                store.add_slice(
                    setting, method, name, "-" if method == "zero-filled" else "lamda=0.01", 1.5, scores(psnr)
                )
            store.add_row(
                setting, method, "-" if method == "zero-filled" else "lamda=0.01", "-", [scores(psnr)] * 2, 1.5
            )
    store.write_tables(final=True)
    return store


def test_a_rerun_takes_the_earlier_scores_of_the_same_method_settings_and_slice(tmp_path):
    finished_run(tmp_path)
    rerun = ResultsStore(str(tmp_path))
    rerun.open()
    rerun.add_slice(SETTING, "zero-filled", "a", "-", 0.0, scores(20.0))  # zero filling is recomputed every run
    rerun.check_earlier(SETTING)
    found = rerun.earlier(("gaussian1d", "0.3", "TV", "b", "lamda=0.01"))
    assert found is not None and float(found["psnr"]) == 25.0 and float(found["seconds"]) == 1.5
    assert rerun.earlier(("gaussian1d", "0.3", "TV", "b", "lamda=0.1")) is None  # other settings: scored again


def test_scores_of_other_data_are_set_aside_in_output_dir_and_refused_from_reuse_from(tmp_path):
    finished_run(tmp_path / "own")
    finished_run(tmp_path / "other")
    store = ResultsStore(str(tmp_path / "own"), reuse_from=[str(tmp_path / "other" / "per_slice.csv")])
    store.open()
    store.add_slice(SETTING, "zero-filled", "a", "-", 0.0, scores(21.0))  # this run's data differ
    with pytest.raises(ValueError, match="reuse_from .*other.* other data .*20.0000 dB, this run's 21.0000 dB"):
        store.check_earlier(SETTING)
    own = ResultsStore(str(tmp_path / "own"))
    own.open()
    own.add_slice(SETTING, "zero-filled", "a", "-", 0.0, scores(21.0))
    own.check_earlier(SETTING)  # the own table of other data: set aside with a warning, its slices scored again
    assert own.earlier(("gaussian1d", "0.3", "TV", "a", "lamda=0.01")) is None


def test_a_stopped_run_keeps_the_earlier_rows_it_had_not_reached(tmp_path):
    poisson = {"mask_type": "poisson2d", "sampling_fraction": 0.2}
    finished_run(tmp_path, settings=(SETTING, poisson))
    rerun = ResultsStore(str(tmp_path))
    rerun.open()
    rerun.add_slice(SETTING, "zero-filled", "a", "-", 0.0, scores(20.0))
    rerun.write_tables()  # after a method, as the comparison does
    again = ResultsStore.load_previous(str(tmp_path / "per_slice.csv"))
    assert sum(k[0] == "poisson2d" for k in again) == 4 and sum(k[0] == "gaussian1d" for k in again) == 3
    rerun.write_tables(final=True)  # the end of a run: only its own rows
    assert len(ResultsStore.load_previous(str(tmp_path / "per_slice.csv"))) == 1


def test_a_truncated_reuse_from_table_is_named_and_the_own_one_skips_its_cut_line(tmp_path):
    finished_run(tmp_path / "run")
    path = tmp_path / "run" / "per_slice.csv"
    text = path.read_text()
    path.write_text(text[: text.rindex(",")])
    assert len(ResultsStore.load_previous(str(path))) == 3
    with pytest.raises(ValueError, match="damaged: line 5 has fewer fields"):
        ResultsStore.load_previous(str(path), required=True)
    assert unscored("") and unscored("nan") and unscored(None) and not unscored("0.0")

"""The gan_mri collapse probes run on a few random slices and name a missing data folder."""

from __future__ import annotations

import argparse

import pytest
import torch

from studies.gan_collapse import probes


def test_a_missing_data_folder_names_the_flag_and_the_folder_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data_dir"):
        probes.load_slices(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("probe", ["plain_loop", "generator_fit"])
def test_each_probe_reports_at_its_interval(probe, capsys):
    torch.manual_seed(0)
    real = torch.rand(40, 1, 64, 64)
    args = argparse.Namespace(variant="bn", steps=2, report_every=2)
    getattr(probes, probe)(args, real)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "step 2" in lines[0]

from __future__ import annotations

import pytest

from monai_genmed.utils import check_output_dirs


def test_check_output_dirs_creates_each_folder_and_names_the_bad_one(tmp_path):
    logs, models = tmp_path / "logs", tmp_path / "models" / "checkpoints"
    assert check_output_dirs(output_dir=str(logs), ckpt_dir=str(models)) == [str(logs), str(models)]
    assert logs.is_dir() and models.is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="ckpt_dir=.*is a file"):
        check_output_dirs(output_dir=str(logs), ckpt_dir=str(tmp_path / "file"))

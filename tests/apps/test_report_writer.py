"""The one report writer: Markdown tables, CSV and figures, each written whole or not at all."""

from __future__ import annotations

import csv
import math

import pytest

from monai_genmed.apps.report import ReportWriter, format_cell, markdown_table


def test_markdown_table_lines_and_a_row_of_the_wrong_width_is_refused():
    lines = markdown_table(["method", "PSNR (dB)"], [("TV", "25.10"), ("zero-filled", 22)])
    assert lines == ["| method | PSNR (dB) |", "| --- | --- |", "| TV | 25.10 |", "| zero-filled | 22 |"]
    assert markdown_table(["a"], []) == ["| a |", "| --- |"]
    with pytest.raises(ValueError, match="2 cells, the header 3"):
        markdown_table(["a", "b", "c"], [(1, 2)])


@pytest.mark.parametrize(
    "value,expected", [(None, "-"), (math.nan, "-"), (math.inf, "-"), (1.23456, "1.23"), (3, "3.00")]
)
def test_format_cell_marks_what_was_not_scored(value, expected):
    assert format_cell(value, ".2f") == expected


def test_writer_writes_markdown_csv_and_a_figure_into_a_new_folder(tmp_path):
    writer = ReportWriter(tmp_path / "report")
    md = writer.write_markdown("results.md", ["# Title", "", *writer.table(["a", "b"], [(1, 2)])])
    assert open(md).read() == "# Title\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
    rows = [{"method": "TV", "psnr": 25.1}, {"method": "BM3D", "psnr": 26.0, "ssim": 0.7}]
    with open(writer.write_csv("results.csv", rows), newline="") as f:
        assert list(csv.DictReader(f)) == [
            {"method": "TV", "psnr": "25.1", "ssim": ""},
            {"method": "BM3D", "psnr": "26.0", "ssim": "0.7"},
        ]
    assert open(writer.write_csv("t_tests.csv", [])).read() == ""
    fig = writer.new_figure((2, 2))
    fig.subplots().plot([0, 1], [0, 1])
    png = writer.save_figure(fig, "line.png", dpi=50)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "line.png",
        "results.csv",
        "results.md",
        "t_tests.csv",
    ]


def test_a_failed_write_leaves_the_earlier_file_whole(tmp_path):
    writer = ReportWriter(tmp_path)
    writer.write_markdown("results.md", ["earlier"])

    class Broken:
        def savefig(self, path, dpi):
            open(path, "w").write("half")
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        writer.save_figure(Broken(), "results.md")
    assert (tmp_path / "results.md").read_text() == "earlier\n" and [p.name for p in tmp_path.iterdir()] == [
        "results.md"
    ]

"""One writer for the comparisons' reports: Markdown tables, CSV tables and figures, each written atomically.

The reconstruction and synthesis comparisons (and the studies beside the package) build their
tables with :func:`markdown_table` and write them, with their figures, through :class:`ReportWriter`, so a
report's format and a reader's guarantee (never a half-written file) change in one place.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from monai_genmed.utils.io import atomic_path, write_csv_atomic

__all__ = ["ReportWriter", "format_cell", "markdown_table"]


def format_cell(value: Any, spec: str = "", missing: str = "-") -> str:
    """``value`` formatted with ``spec`` (``".2f"``), or ``missing`` when it is None or a number that is not finite
    (a score an earlier run did not compute)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, spec)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a Markdown table: ``| a | b |``, ``| --- | --- |``, then one line per row (cells by ``str``).

    Raises:
        ValueError: when a row has another number of cells than ``header`` (the table would be cut or shifted).
    """
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [str(c) for c in row]
        if len(cells) != len(header):
            raise ValueError(f"a table row has {len(cells)} cells, the header {len(header)}: {cells}.")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


class ReportWriter:
    """Writes a report's files into ``output_dir``: Markdown, CSV and figures, each atomically (a reader or a
    killed run never sees half a file; :func:`monai_genmed.utils.io.atomic_path`).

    Args:
        output_dir: the report's folder (created on the first write).
    """

    def __init__(self, output_dir: str | os.PathLike) -> None:
        self.output_dir = os.fspath(output_dir)

    def path(self, name: str) -> str:
        """The path of the report file ``name``."""
        return os.path.join(self.output_dir, name)

    table = staticmethod(markdown_table)

    def write_markdown(self, name: str, lines: Sequence[str]) -> str:
        """``lines`` (for example a title, facts and :meth:`table`'s lines) as ``name``, ending with a newline."""
        path = self.path(name)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def write_csv(self, name: str, rows: Sequence[Mapping[str, Any]]) -> str:
        """``rows`` as the CSV ``name`` with a header (the keys in order of first appearance); no rows: an empty
        file."""
        path = self.path(name)
        if rows:
            write_csv_atomic(path, rows)
        else:
            with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8"):
                pass
        return path

    @staticmethod
    def new_figure(figsize: tuple[float, float]) -> Any:
        """A Matplotlib figure that no GUI backend or pyplot state holds (nothing to close, safe in threads)."""
        from matplotlib.figure import Figure

        return Figure(figsize=figsize)

    def save_figure(self, figure: Any, name: str, dpi: int = 100) -> str:
        """``figure`` as the PNG ``name``."""
        path = self.path(name)
        with atomic_path(path, os.path.splitext(name)[1] or ".png") as tmp:
            figure.savefig(tmp, dpi=dpi)
        return path

    def save_image_panels(
        self, panels: Sequence[tuple[str, Any]], name: str, ncols: int = 4, value_range: tuple[float, float] = (0, 1)
    ) -> str:
        """Grey-level images side by side, each with its title (e.g. one sample grid per model), as the PNG ``name``.

        Args:
            panels: ``(title, image)`` pairs, each image a 2-D array.
            name: the PNG's file name.
            ncols: panels per row.
            value_range: the grey levels shown black and white.
        """
        ncols = max(1, min(ncols, len(panels)))
        nrows = math.ceil(len(panels) / ncols)
        fig = self.new_figure((3.2 * ncols, 3.4 * nrows))
        for i, (title, image) in enumerate(panels):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            ax.imshow(image, cmap="gray", vmin=value_range[0], vmax=value_range[1])
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        return self.save_figure(fig, name, dpi=90)

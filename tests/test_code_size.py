"""The package stays readable in parts: no module under monai_genmed/ over 600 lines, no class over 300 (issue 24).

A module or class that grows past these is split by concern (re-exported where users import it), not exempted.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "monai_genmed"
MAX_FILE_LINES = 600
MAX_CLASS_LINES = 300


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_600_lines():
    assert sources(), f"no Python files under {PACKAGE}"
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert not long, f"modules over {MAX_FILE_LINES} lines (split them by concern): {long}"


def test_no_class_is_over_300_lines():
    long = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                long[f"{path.relative_to(PACKAGE)}::{node.name}"] = node.end_lineno - node.lineno + 1
    assert not long, f"classes over {MAX_CLASS_LINES} lines (move what is not the class's own concern out): {long}"

"""The configs share definitions by layering, never by copying: checks over every bundle's, shared and study config.

- A logging or loader ``_target_`` block (handlers that log, summary writers, datasets, loaders, samplers) is
  defined in one file only; the next bundle layers that file (``configs/training.json``,
  ``configs/inference_loader.json``, ...) instead of a copy.
- No config picks a handler by its position in a list (``@train#handlers[:5]``): an edit of the list would
  silently change what runs; the lists are named (``train#rank_handlers``, ``train#logging_handlers``).
- No ``$`` expression is longer than :data:`MAX_EXPRESSION`: longer logic is a tested function in the package.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: a study's configs (``studies/gan_collapse/compare.json``) layer the bundles' files and follow the same rules
CONFIGS = sorted([*REPO.glob("configs/*.json"), *REPO.glob("bundles/*/configs/*.json"), *REPO.glob("studies/*/*.json")])
CONFIGS = [p for p in CONFIGS if p.name != "metadata.json"]

#: the blocks that must have one home: what logs, and what loads batches
LOGGING_OR_LOADER = re.compile(
    r"(StatsHandler|TensorBoard\w*Handler|SummaryWriter|MetricsCSVWriter|ProgressBar|ImageGridSaver|"
    r"DataLoader|CacheDataset|\.Dataset$|Sampler$|distributed_sampler$)"
)
#: blocks too small to share: the whole block is the class name and one switch, a shared copy would only add a file
#: to every command that needs it (MONAI's own bundles write these inline too)
TINY_BLOCKS = {
    '{"_target_": "monai.handlers.StatsHandler", "iteration_log": false}',  # inference: log the run's end
    '{"_target_": "monai_genmed.handlers.ProgressBar"}',
}

#: a `$` expression longer than this is a function or a ``_target_`` block: 120 characters, the line length of the
#: package's code (ruff), hold one call with a few arguments
MAX_EXPRESSION = 120
#: TODO: expressions over the limit that are still to become functions (this list may only shrink)
TODO_LONG: set[tuple[str, str]] = set()
#: `$` expressions that pick a list item by position from a handler list
BY_POSITION = re.compile(r"handlers\[\s*(:|-|\d)|handlers#\d")


def _name(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _walk(node, path=""):
    """(config id, value) of every node below ``node``."""
    yield path, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _walk(value, f"{path}#{key}" if path else str(key))


def _nodes():
    for path in CONFIGS:
        config = json.loads(path.read_text())
        for key in config:  # a layered file's ids (``train#x``) are ids too: check them as written
            yield from ((_name(path), node_id, value) for node_id, value in _walk(config[key], key))


def test_logging_and_loader_blocks_have_one_home():
    homes = defaultdict(set)
    for name, node_id, value in _nodes():
        if isinstance(value, dict) and LOGGING_OR_LOADER.search(str(value.get("_target_", ""))):
            block = json.dumps(value, sort_keys=True)
            if block not in TINY_BLOCKS:
                homes[block].add(f"{name}:{node_id}")
    copies = {block: sorted(places) for block, places in homes.items() if len({p.split(":")[0] for p in places}) > 1}
    assert not copies, "blocks defined in several files; move each into one shared configs/ file:\n" + "\n".join(
        f"{json.loads(b)['_target_']}: {', '.join(p)}" for b, p in copies.items()
    )


def test_no_config_picks_a_handler_by_position():
    found = [f"{name}:{node_id}: {value}" for name, node_id, value in _nodes()
             if isinstance(value, str) and value.startswith(("$", "@")) and BY_POSITION.search(value)]  # fmt: skip
    found += [
        f"{_name(path)}: key {key}"
        for path in CONFIGS
        for key in json.loads(path.read_text())
        if BY_POSITION.search(key)
    ]  # a layered file's id that addresses an item of a handler list
    assert not found, "name the handler lists (train#rank_handlers, ...) instead:\n" + "\n".join(found)


def _long_expressions():
    return {(name, node_id) for name, node_id, value in _nodes()
            if isinstance(value, str) and value.startswith("$") and len(value) > MAX_EXPRESSION}  # fmt: skip


def test_no_expression_is_longer_than_the_limit():
    new = sorted(_long_expressions() - TODO_LONG)
    assert not new, f"$ expressions over {MAX_EXPRESSION} characters; make each a tested function:\n" + "\n".join(
        f"{n}:{i}" for n, i in new
    )


def test_the_todo_list_of_long_expressions_only_shrinks():
    fixed = sorted(TODO_LONG - _long_expressions())
    assert not fixed, "these are fixed: remove them from TODO_LONG:\n" + "\n".join(f"{n}:{i}" for n, i in fixed)


@pytest.mark.parametrize("pattern", ["@train#handlers[:5]", "@validate#handlers[:1]", "@x#handlers[-1]",
                                     "@train#handlers[0]", "train#sync_handlers#1#extra_objects"])  # fmt: skip
def test_the_position_pattern_catches_the_old_overlays(pattern):
    assert BY_POSITION.search(pattern)

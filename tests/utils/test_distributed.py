"""process_rank starts the process group from torchrun's environment once; distributed_sampler needs nothing else."""

from __future__ import annotations

import socket

import pytest
import torch.distributed as dist

from monai_genmed.data import distributed_sampler
from monai_genmed.utils import end_process_group, is_main_process, process_rank


@pytest.fixture
def torchrun_env(monkeypatch):
    """The variables torchrun sets, for a group of one process on a free local port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1",
                       "LOCAL_RANK": "0"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    yield
    end_process_group()


def test_process_rank_starts_the_group_once_and_end_stops_it(torchrun_env):
    assert not dist.is_initialized()
    assert process_rank("gloo") == 0 and dist.is_initialized()
    group = dist.group.WORLD
    assert process_rank("gloo") == 0 and dist.group.WORLD is group  # a running group is reused, not restarted
    end_process_group()
    assert not dist.is_initialized()
    end_process_group()  # nothing to end: no error


def test_distributed_sampler_starts_the_group_and_splits_the_data(torchrun_env):
    sampler = distributed_sampler(list(range(10)), backend="gloo", shuffle=False, even_divisible=True)
    assert dist.is_initialized() and list(sampler) == list(range(10))  # one process sees every item


def test_is_main_process_without_a_group_and_by_rank_within_one(torchrun_env, monkeypatch):
    assert is_main_process() and not dist.is_initialized()  # asking starts no group
    process_rank("gloo")
    assert is_main_process()
    monkeypatch.setattr(dist, "get_rank", lambda *args: 1)  # what rank 1 of a group of two sees
    assert not is_main_process()

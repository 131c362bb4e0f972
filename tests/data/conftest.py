from __future__ import annotations

import pytest

from monai_genmed.data import generate_brain_mr_dataset, generate_head_mr_ct_dataset

# Tiny datasets: 4 mm pixels so that 45 x 64 pixels hold the whole head; two subjects in two splits.
SMALL = {
    "num_subjects": {"training": 1, "validation": 1},
    "slices_per_subject": 3,
    "spatial_size": (45, 64),
    "spacing": 4.0,
    "seed": 7,
}


@pytest.fixture(scope="session")
def brain_mr(tmp_path_factory):
    return generate_brain_mr_dataset(tmp_path_factory.mktemp("brain_mr"), snr=30.0, **SMALL)


@pytest.fixture(scope="session")
def brain_mr_clean(tmp_path_factory):
    return generate_brain_mr_dataset(tmp_path_factory.mktemp("brain_mr_clean"), snr=None, **SMALL)


@pytest.fixture(scope="session")
def head_mr_ct(tmp_path_factory):
    return generate_head_mr_ct_dataset(tmp_path_factory.mktemp("head_mr_ct"), mr_snr=30.0, **SMALL)


@pytest.fixture(scope="session")
def head_mr_ct_misaligned(tmp_path_factory):
    return generate_head_mr_ct_dataset(
        tmp_path_factory.mktemp("head_mr_ct_mis"), mr_snr=30.0, misalignment=1.0, **SMALL
    )


@pytest.fixture
def small():
    """The tiny datasets' arguments, to generate variants of them."""
    return {**SMALL, "num_subjects": dict(SMALL["num_subjects"])}

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_genmed.engines import DiffAugment


def images(n=6, size=(9, 12), seed=0):
    return torch.rand(n, 1, *size, generator=torch.Generator().manual_seed(seed)) + 0.5  # no zeros of its own


def shifted(image, dy, dx):
    """The image moved by (dy, dx) pixels, zero filled."""
    h, w = image.shape[-2:]
    padded = F.pad(image, [abs(dx), abs(dx), abs(dy), abs(dy)])
    return padded[..., abs(dy) - dy : abs(dy) - dy + h, abs(dx) - dx : abs(dx) - dx + w]


def test_translation_moves_each_sample_by_at_most_an_eighth_with_zero_fill():
    x = images()
    out = DiffAugment(policy=["translation"], seed=1)(x)
    limits = (round(9 * 0.125), round(12 * 0.125))  # 1 and 2 pixels (rounded half up: int(1.125 + 0.5), int(1.5 + 0.5))
    moves = []
    for image, moved in zip(x, out):
        found = [(dy, dx) for dy in range(-limits[0], limits[0] + 1) for dx in range(-limits[1], limits[1] + 1)
                 if torch.equal(shifted(image, dy, dx), moved)]  # fmt: skip
        assert found, "an augmented sample is not a zero-filled integer shift of its input"
        moves.append(found[0])
    assert len(set(moves)) > 1  # each sample draws its own shift


def test_cutout_zeroes_one_square_of_half_the_side_per_sample():
    x = torch.ones(8, 1, 16, 16)
    out = DiffAugment(policy=["cutout"], seed=2)(x)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    for sample in out[:, 0]:
        rows, cols = (sample == 0).nonzero(as_tuple=True)
        assert len(rows) > 0
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert height <= 8 and width <= 8 and len(rows) == height * width  # one rectangle, clipped at the border
    assert (out == 0).float().mean() > 0.1


def test_the_augmentation_is_differentiable_and_leaves_the_global_random_state_alone():
    x = images().requires_grad_(True)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    out = DiffAugment(policy=["translation", "cutout", "brightness", "contrast"], seed=3)(x)
    assert torch.equal(torch.get_rng_state(), state)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and (x.grad == 0).any()  # cut-out pixels get none


def test_draws_are_seeded_and_resume_exactly_from_the_state_dict():
    x = images()
    a, b = DiffAugment(seed=4), DiffAugment(seed=4)
    torch.testing.assert_close(a(x), b(x))
    saved = a.state_dict()
    expected = a(x)
    c = DiffAugment(seed=99)
    c.load_state_dict(saved)
    torch.testing.assert_close(c(x), expected)
    assert not torch.equal(DiffAugment(seed=5)(x), DiffAugment(seed=4)(x))


def test_probability_zero_is_the_identity_and_a_fraction_augments_some_samples():
    x = images(n=64)
    torch.testing.assert_close(DiffAugment(probability=0.0)(x), x)
    out = DiffAugment(policy=["cutout"], probability=0.5, seed=6)(x)
    changed = (out != x).flatten(1).any(1).float().mean().item()
    assert 0.25 < changed < 0.75


def test_three_dimensional_batches_are_translated_and_cut_on_every_axis():
    x = torch.ones(3, 1, 8, 8, 8)
    out = DiffAugment(seed=7)(x)
    assert out.shape == x.shape and (out == 0).any()


@pytest.mark.parametrize(
    "kwargs, key",
    [({"probability": 1.5}, "augment_probability"), ({"probability": -0.1}, "augment_probability"),
     ({"translation_ratio": 0.7}, "translation_ratio"), ({"cutout_ratio": 2}, "cutout_ratio"),
     ({"policy": ["colour"]}, "policy")],
)  # fmt: skip
def test_bad_settings_name_the_key_and_the_range(kwargs, key):
    with pytest.raises(ValueError, match=key):
        DiffAugment(**kwargs)

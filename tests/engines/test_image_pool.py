from __future__ import annotations

import io

import pytest
import torch

from monai_genmed.engines import ImagePool


def constant_batch(values, size=4):
    """A batch whose i-th image is filled with values[i], so each image is recognisable by its value."""
    return torch.stack([torch.full((1, size, size), float(v)) for v in values])


def ids(batch):
    return [float(image[0, 0, 0]) for image in batch]


def test_pool_of_size_zero_passes_every_batch_through():
    pool = ImagePool(0)
    batch = torch.rand(3, 1, 8, 8)
    assert pool.query(batch) is batch
    assert len(pool) == 0


def test_a_filling_pool_returns_the_new_images_and_stores_them():
    pool = ImagePool(4, seed=0)
    assert ids(pool.query(constant_batch([1, 2, 3]))) == [1, 2, 3]
    assert ids(pool.query(constant_batch([4]))) == [4]
    assert sorted(ids(pool.images)) == [1, 2, 3, 4]


def test_a_full_pool_swaps_about_half_of_the_images_for_stored_ones_without_the_global_generator():
    pool = ImagePool(10, seed=0)
    pool.query(constant_batch(range(10)))
    global_state = torch.get_rng_state()
    queried, swapped = 1000, 0
    for i in range(10, 10 + queried):
        before = set(ids(pool.images))
        (returned,) = ids(pool.query(constant_batch([i])))
        if returned != i:
            swapped += 1
            assert returned in before  # a stored image came back ...
            assert i in ids(pool.images) and returned not in ids(pool.images)  # ... and the new one took its place
        else:
            assert set(ids(pool.images)) == before  # returned as it is, and not stored
    # binomial(1000, 0.5): mean 500, standard deviation 16
    assert 430 < swapped < 570
    assert torch.equal(torch.get_rng_state(), global_state)


def test_equal_seeds_give_equal_queries_and_other_seeds_other_ones():
    def run(seed):
        pool = ImagePool(5, seed=seed)
        return [ids(pool.query(constant_batch([2 * i, 2 * i + 1]))) for i in range(40)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_state_round_trip_through_torch_save_continues_exactly():
    pool = ImagePool(5, seed=0)
    for i in range(20):
        pool.query(constant_batch([2 * i, 2 * i + 1]))
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)
    buffer.seek(0)
    restored = ImagePool(5, seed=123)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert ids(restored.images) == ids(pool.images)
    for i in range(20, 40):
        batch = constant_batch([2 * i, 2 * i + 1])
        assert torch.equal(restored.query(batch), pool.query(batch))


def test_loading_the_state_of_another_pool_size_is_a_clear_error():
    with pytest.raises(ValueError, match="holds up to 5 images, this one 50"):
        ImagePool(50).load_state_dict(ImagePool(5).state_dict())


def test_negative_pool_size_is_rejected():
    with pytest.raises(ValueError, match="pool_size must be >= 0"):
        ImagePool(-1)

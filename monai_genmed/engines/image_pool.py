"""A history of generated images for the discriminator, as CycleGAN trains it.

Shrivastava et al., "Learning from Simulated and Unsupervised Images through Adversarial Training", CVPR 2017
(https://arxiv.org/abs/1612.07828), update the discriminator on a buffer of earlier refined images as well as
the newest ones, so it does not forget what it rejected before and the generator cannot oscillate between
modes. CycleGAN (Zhu et al. 2017, https://arxiv.org/abs/1703.10593, section 4) keeps 50 images; the query
rule here is the one of its reference code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """A pool of up to ``pool_size`` generated images; ``query`` mixes stored images into a batch of new ones.

    While the pool is filling, every new image is stored and returned as it is. Once it is full, each new image
    is, with probability 0.5, stored in place of a random stored image which is returned instead; otherwise it is
    returned and not stored. The draws come from the pool's own ``torch.Generator`` seeded by ``seed`` (never
    torch's global generator), and :meth:`state_dict` holds the stored images and that generator's state, so a
    resumed run queries exactly as the uninterrupted one.

    Args:
        pool_size: how many images to keep (CycleGAN: 50); 0 returns every batch unchanged.
        seed: seed of the pool's generator.

    Example::

        pool = ImagePool(50, seed=0)
        d_loss = gan.discriminator_loss(d_b(real_b), d_b(pool.query(fake_b.detach())))
    """

    def __init__(self, pool_size: int = 50, seed: int = 0) -> None:
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0 (0 turns the pool off), got {pool_size}.")
        self.pool_size = int(pool_size)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """A batch like ``images`` (``(B, C, *spatial)``, detached) in which stored images may stand for new ones."""
        if self.pool_size == 0:
            return images
        images = images.detach()
        returned = []
        for image in images:
            # a plain tensor: a MetaTensor's meta (applied transforms) must not travel into weights-only checkpoints
            image = image.as_subclass(torch.Tensor).clone()
            if len(self.images) < self.pool_size:
                self.images.append(image)
                returned.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                index = int(torch.randint(self.pool_size, (), generator=self.generator))
                returned.append(self.images[index])
                self.images[index] = image
            else:
                returned.append(image)
        # stored images may come from a checkpoint (another device) or an autocast step (another dtype)
        return torch.stack([image.to(device=images.device, dtype=images.dtype) for image in returned])

    def state_dict(self) -> dict[str, Any]:
        """The stored images, the generator state and the pool size (for a check on loading)."""
        return {"pool_size": self.pool_size, "images": list(self.images), "generator": self.generator.get_state()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; its pool size must match this pool's."""
        if int(state_dict["pool_size"]) != self.pool_size:
            raise ValueError(
                f"the saved image pool holds up to {int(state_dict['pool_size'])} images, this one {self.pool_size}; "
                "use the pool size of the run that saved it."
            )
        self.images = [torch.as_tensor(image).clone() for image in state_dict["images"]]
        self.generator.set_state(torch.as_tensor(state_dict["generator"]).cpu())

from __future__ import annotations

import pytest
import torch

from monai_genmed.engines import AdversarialObjective
from monai_genmed.utils.enums import GenerativeKeys


def tiny_generator() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 1, 3, padding=1)
    )


def tiny_discriminator() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 4, stride=2, padding=1),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(4, 1, 4, stride=2, padding=1),
    )


class TwoDomainObjective(AdversarialObjective):
    """A minimal CycleGAN-shaped objective: two generators (a->b, b->a) and one discriminator per domain."""

    generator_names = ("g_ab", "g_ba")
    discriminator_names = ("d_a", "d_b")

    def generate(self, networks, batch):
        fake_b = networks["g_ab"](batch["a"])
        fake_a = networks["g_ba"](batch["b"])
        return {
            "fake_a": fake_a,
            "fake_b": fake_b,
            "rec_a": networks["g_ba"](fake_b),
            "rec_b": networks["g_ab"](fake_a),
        }

    def generator_loss(self, networks, batch, outputs):
        adv = ((networks["d_b"](outputs["fake_b"]) - 1) ** 2).mean() + (
            (networks["d_a"](outputs["fake_a"]) - 1) ** 2
        ).mean()
        cycle = (outputs["rec_a"] - batch["a"]).abs().mean() + (outputs["rec_b"] - batch["b"]).abs().mean()
        return {GenerativeKeys.TOTAL: adv + 10 * cycle, "adversarial": adv, "cycle": cycle}

    def discriminator_loss(self, networks, batch, outputs):
        loss = 0.0
        for d, real, fake in (("d_a", "a", "fake_a"), ("d_b", "b", "fake_b")):
            loss = loss + ((networks[d](batch[real]) - 1) ** 2).mean() + (networks[d](outputs[fake]) ** 2).mean()
        return {GenerativeKeys.TOTAL: loss / 2}


@pytest.fixture
def two_domain_data():
    g = torch.Generator().manual_seed(0)
    return [{"a": torch.rand(1, 32, 32, generator=g), "b": torch.rand(1, 32, 32, generator=g)} for _ in range(4)]


@pytest.fixture
def build_two_domain_trainer():
    """Factory of a trainer with 2 generators and 2 discriminators on 32x32 data."""
    from monai.data import DataLoader

    from monai_genmed.engines import GenerativeAdversarialTrainer

    def build(data, max_epochs=1, n_critic=1, handlers=None, seed=0, batch_size=2, drop_last=False, **kwargs):
        torch.manual_seed(seed)
        gens = {"g_ab": tiny_generator(), "g_ba": tiny_generator()}
        discs = {"d_a": tiny_discriminator(), "d_b": tiny_discriminator()}
        g_opt = torch.optim.Adam([p for g in gens.values() for p in g.parameters()], lr=1e-3, betas=(0.5, 0.999))
        d_opts = {name: torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999)) for name, d in discs.items()}
        return GenerativeAdversarialTrainer(
            device="cpu",
            max_epochs=max_epochs,
            train_data_loader=DataLoader(data, batch_size=batch_size, shuffle=False, drop_last=drop_last),
            generators=gens,
            discriminators=discs,
            objective=TwoDomainObjective(),
            g_optimizer=g_opt,
            d_optimizer=d_opts,
            n_critic=n_critic,
            train_handlers=handlers,
            **kwargs,
        )

    return build

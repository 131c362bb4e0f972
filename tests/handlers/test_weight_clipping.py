from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader

from monai_genmed.engines import GenerativeAdversarialTrainer, GenerativeIterationEvents, UnconditionalGANObjective
from monai_genmed.handlers import WeightClipping
from monai_genmed.losses import GANLoss
from monai_genmed.networks.nets import DCGANDiscriminator, DCGANGenerator


def wgan_trainer(handlers, n_critic=2):
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=3, image_size=8, channels=(8,))
    d = DCGANDiscriminator(image_size=8, channels=(8,), norm=("group", {"num_groups": 1}))
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(10.0)  # start far outside the clipping box
    data = [{"image": torch.rand(1, 8, 8)} for _ in range(8)]
    return GenerativeAdversarialTrainer(
        device="cpu",
        max_epochs=1,
        train_data_loader=DataLoader(data, batch_size=2),
        generators={"generator": g},
        discriminators={"discriminator": d},
        objective=UnconditionalGANObjective(GANLoss("wasserstein"), latent_dim=3),
        g_optimizer=torch.optim.RMSprop(g.parameters(), lr=5e-3),
        d_optimizer=torch.optim.RMSprop(d.parameters(), lr=5e-3),
        n_critic=n_critic,
        train_handlers=handlers,
    )


def test_clipping_keeps_every_critic_weight_in_range_after_each_critic_step():
    trainer = wgan_trainer([WeightClipping(0.01)])
    d, g = trainer.state.discriminators["discriminator"], trainer.state.generators["generator"]
    largest = []
    trainer.add_event_handler(
        GenerativeIterationEvents.DISCRIMINATOR_STEP_COMPLETED,
        lambda e: largest.append(max(p.abs().max().item() for p in d.parameters())),
    )
    trainer.run()
    assert len(largest) == 4 and max(largest) <= 0.01  # every critic step ends inside [-c, c]
    assert max(p.abs().max().item() for p in g.parameters()) > 0.01  # the generator is not clipped


def test_clipping_off_leaves_the_critic_alone():
    trainer = wgan_trainer([WeightClipping(None)])
    trainer.run()
    assert max(p.abs().max().item() for p in trainer.state.discriminators["discriminator"].parameters()) > 0.01


def test_unknown_network_names_and_bad_values_are_errors():
    with pytest.raises(KeyError, match="critic"):
        wgan_trainer([WeightClipping(0.01, networks=["critic"])]).run()
    with pytest.raises(ValueError):
        WeightClipping(-1.0)

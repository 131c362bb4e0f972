from __future__ import annotations

import copy

import pytest
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader
from monai.handlers import from_engine
from monai.networks.nets import PatchDiscriminator, VarAutoEncoder
from monai.utils import CommonKeys

from monai_genmed.engines import (
    AdversarialObjective,
    CycleGANObjective,
    GenerativeAdversarialTrainer,
    GenerativeIterationEvents,
    PairedAdversarialObjective,
    ReconstructionObjective,
    final_logits,
)
from monai_genmed.losses import GANLoss, gradient_penalty, r1_penalty
from monai_genmed.utils.enums import GenerativeKeys

from .conftest import tiny_discriminator, tiny_generator


class Shift(torch.nn.Module):
    """A generator that adds a learnable constant: hand-computable outputs."""

    def __init__(self, shift: float) -> None:
        super().__init__()
        self.shift = torch.nn.Parameter(torch.tensor(shift))

    def forward(self, x):
        return x + self.shift


def scaling_discriminator(weight: float) -> torch.nn.Module:
    """Logits ``weight * x`` per pixel."""
    conv = torch.nn.Conv2d(1, 1, 1, bias=False)
    torch.nn.init.constant_(conv.weight, weight)
    return conv


# -- CycleGAN ----------------------------------------------------------------------------------------------------


def cyclegan_networks():
    return {
        "syn_ct": Shift(0.25),
        "syn_mr": Shift(-0.5),
        "dis_mr": scaling_discriminator(4.0),
        "dis_ct": scaling_discriminator(2.0),
    }


def cyclegan_objective(**kwargs):
    return CycleGANObjective(
        g_ab="syn_ct", g_ba="syn_mr", d_a="dis_mr", d_b="dis_ct", key_a="mr", key_b="ct", pool_size=0, **kwargs
    )


CYCLE_BATCH = {"mr": torch.full((1, 1, 4, 4), 0.5), "ct": torch.full((1, 1, 4, 4), 1.0)}


def test_cyclegan_outputs_and_common_keys():
    objective, networks = cyclegan_objective(), cyclegan_networks()
    out = objective.generate(networks, CYCLE_BATCH)
    # fake_b = mr + 0.25, fake_a = ct - 0.5, rec_a = fake_b - 0.5, rec_b = fake_a + 0.25
    expected = {"fake_b": 0.75, "fake_a": 0.5, "rec_a": 0.25, "rec_b": 0.75}
    assert {k: float(out[k].detach().mean()) for k in expected} == expected
    assert out[CommonKeys.IMAGE] is CYCLE_BATCH["mr"] and out[CommonKeys.LABEL] is CYCLE_BATCH["ct"]
    assert out[CommonKeys.PRED] is out["fake_b"]


def test_cyclegan_generator_terms_match_hand_values():
    objective, networks = cyclegan_objective(lambda_identity=5.0), cyclegan_networks()
    terms = objective.generator_loss(networks, CYCLE_BATCH, objective.generate(networks, CYCLE_BATCH))
    expected = {
        "adversarial_b": 0.5 * (2.0 * 0.75 - 1) ** 2,  # LSGAN: dis_ct(fake ct) = 1.5
        "adversarial_a": 0.5 * (4.0 * 0.5 - 1) ** 2,  # dis_mr(fake mr) = 2.0
        "cycle_a": 0.25,  # |rec_a - mr|
        "cycle_b": 0.25,  # |rec_b - ct|
        "identity_b": 0.25,  # |syn_ct(ct) - ct|
        "identity_a": 0.5,  # |syn_mr(mr) - mr|
    }
    expected["total"] = (
        expected["adversarial_a"]
        + expected["adversarial_b"]
        + 10 * (expected["cycle_a"] + expected["cycle_b"])
        + 5 * (expected["identity_a"] + expected["identity_b"])
    )
    assert {k: pytest.approx(float(v.detach())) for k, v in terms.items()} == expected
    assert expected["total"] == pytest.approx(9.375)


def test_cyclegan_without_identity_skips_the_identity_terms():
    objective, networks = cyclegan_objective(), cyclegan_networks()
    terms = objective.generator_loss(networks, CYCLE_BATCH, objective.generate(networks, CYCLE_BATCH))
    assert "identity_a" not in terms and float(terms["total"].detach()) == pytest.approx(0.625 + 10 * 0.5)


def test_cyclegan_discriminator_terms_match_hand_values():
    objective, networks = cyclegan_objective(), cyclegan_networks()
    terms = objective.discriminator_loss(networks, CYCLE_BATCH, objective.generate(networks, CYCLE_BATCH))
    dis_ct = 0.5 * (2.0 * 1.0 - 1) ** 2 + 0.5 * (2.0 * 0.75) ** 2  # real ct, fake ct
    dis_mr = 0.5 * (4.0 * 0.5 - 1) ** 2 + 0.5 * (4.0 * 0.5) ** 2  # real mr, fake mr
    assert float(terms["adversarial_b"].detach()) == pytest.approx(dis_ct)
    assert float(terms["adversarial_a"].detach()) == pytest.approx(dis_mr)
    assert float(terms["total"].detach()) == pytest.approx(dis_ct + dis_mr)


def test_cyclegan_weights_can_follow_the_schedule():
    objective, networks = (
        cyclegan_objective(lambda_cycle=lambda state: 0.0 if state.epoch < 3 else 10.0),
        cyclegan_networks(),
    )
    engine = Engine(lambda e, b: None)
    objective.attach(engine)
    outputs = objective.generate(networks, CYCLE_BATCH)
    engine.state.epoch = 1
    assert float(objective.generator_loss(networks, CYCLE_BATCH, outputs)["total"].detach()) == pytest.approx(0.625)
    engine.state.epoch = 3
    assert float(objective.generator_loss(networks, CYCLE_BATCH, outputs)["total"].detach()) == pytest.approx(5.625)


def test_cyclegan_identity_needs_equal_channels():
    objective = cyclegan_objective(lambda_identity=5.0)
    networks = {
        "syn_ct": torch.nn.Conv2d(1, 2, 1),
        "syn_mr": torch.nn.Conv2d(2, 1, 1),
        "dis_mr": torch.nn.Conv2d(1, 1, 1),
        "dis_ct": torch.nn.Conv2d(2, 1, 1),
    }
    batch = {"mr": torch.rand(1, 1, 4, 4), "ct": torch.rand(1, 2, 4, 4)}
    with pytest.raises(ValueError, match="as many channels"):
        objective.generator_loss(networks, batch, objective.generate(networks, batch))


def test_cyclegan_discriminators_see_fakes_from_their_pools():
    objective = CycleGANObjective(pool_size=2, seed=0)
    networks = {
        "g_ab": Shift(0.0),
        "g_ba": Shift(0.0),
        "d_a": scaling_discriminator(1.0),
        "d_b": scaling_discriminator(1.0),
    }
    for i in range(6):
        batch = {"a": torch.full((1, 1, 4, 4), float(i)), "b": torch.full((1, 1, 4, 4), float(i))}
        objective.discriminator_loss(networks, batch, objective.generate(networks, batch))
    assert len(objective.pool_a) == 2 and len(objective.pool_b) == 2
    assert set(objective.state_dict()) == {"pool_a", "pool_b"} and objective.has_state


# -- engine state seen by an objective ---------------------------------------------------------------------------


class AnnealedReconstruction(ReconstructionObjective):
    """An autoencoder whose loss weight follows the epoch (as KL annealing would), logging what it saw."""

    def generator_loss(self, networks, batch, outputs):
        terms = super().generator_loss(networks, batch, outputs)
        state = self.engine_state
        weight = self.scheduled(lambda s: min(1.0, s.epoch / 2))
        return {
            "total": weight * terms["total"],
            "weight": torch.tensor(weight),
            "epoch": torch.tensor(float(state.epoch)),
            "iteration": torch.tensor(float(state.iteration)),
            "max_epochs": torch.tensor(float(state.max_epochs)),
            "epoch_length": torch.tensor(float(state.epoch_length)),
        }


def reconstruction_trainer(objective, data, max_epochs=1, batch_size=2, lr=1e-2, generator=None, handlers=None):
    torch.manual_seed(0)
    generator = tiny_generator() if generator is None else generator
    return GenerativeAdversarialTrainer(
        device="cpu",
        max_epochs=max_epochs,
        train_data_loader=DataLoader(data, batch_size=batch_size, shuffle=False),
        generators={"generator": generator},
        objective=objective,
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=lr),
        train_handlers=handlers,
    )


def test_objective_sees_the_engine_state():
    data = [{"image": torch.rand(1, 16, 16)} for _ in range(4)]
    trainer = reconstruction_trainer(
        AnnealedReconstruction(torch.nn.functional.mse_loss, target_key=None), data, max_epochs=3
    )
    seen = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output[GenerativeKeys.LOSSES]))
    trainer.run()
    assert [s["g_epoch"] for s in seen] == [1, 1, 2, 2, 3, 3]
    assert [s["g_iteration"] for s in seen] == [1, 2, 3, 4, 5, 6]
    assert [s["g_weight"] for s in seen] == [0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    assert {s["g_max_epochs"] for s in seen} == {3} and {s["g_epoch_length"] for s in seen} == {2}


def test_unattached_objective_has_no_engine_state():
    objective = ReconstructionObjective(torch.nn.functional.mse_loss)
    assert objective.engine_state is None
    with pytest.raises(RuntimeError, match="needs the engine state"):
        objective.scheduled(lambda s: 1.0)
    assert objective.scheduled(2.5) == 2.5


# -- a generator alone -------------------------------------------------------------------------------------------


def test_reconstruction_objective_trains_an_autoencoder_in_one_step_group():
    g = torch.Generator().manual_seed(0)
    data = [{"image": torch.rand(1, 16, 16, generator=g)} for _ in range(8)]
    trainer = reconstruction_trainer(
        ReconstructionObjective(torch.nn.functional.mse_loss, target_key=None), data, max_epochs=15, batch_size=4
    )
    images = torch.stack([d["image"] for d in data])

    def error():
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(trainer.state.generators["generator"](images), images))

    untrained = error()
    trainer.run()
    trained = error()
    assert trained < 0.5 * untrained
    assert [group.name for group in trainer.state.step_groups] == ["g"]
    assert set(trainer.state.output[GenerativeKeys.LOSSES]) == {"g_total"}
    assert trainer.state.output[CommonKeys.PRED].shape == (4, 1, 16, 16)


def test_reconstruction_objective_passes_a_vae_s_extra_outputs_to_the_loss():
    received = []

    def vae_loss(recon, target, mu, logvar, z):
        received.append((mu.shape, logvar.shape, z.shape))
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        return {"total": torch.nn.functional.mse_loss(recon, target) + 0.01 * kl, "kl": kl}

    torch.manual_seed(0)
    vae = VarAutoEncoder(
        spatial_dims=2, in_shape=(1, 16, 16), out_channels=1, latent_size=2, channels=(4, 8), strides=(2, 2)
    )
    data = [{"image": torch.rand(1, 16, 16)} for _ in range(4)]
    trainer = reconstruction_trainer(ReconstructionObjective(vae_loss, target_key=None), data, generator=vae)
    trainer.run()
    assert received[-1] == ((2, 2), (2, 2), (2, 2))
    assert {"g_total", "g_kl"} == set(trainer.state.output[GenerativeKeys.LOSSES])
    assert trainer.state.output[CommonKeys.PRED].shape == (2, 1, 16, 16)


# -- paired adversarial objective --------------------------------------------------------------------------------


def paired_trainer(objective, data, discriminator=None, n_critic=1, max_epochs=1, seed=0):
    torch.manual_seed(seed)
    g, d = tiny_generator(), tiny_discriminator() if discriminator is None else discriminator
    return GenerativeAdversarialTrainer(
        device="cpu",
        max_epochs=max_epochs,
        train_data_loader=DataLoader(data, batch_size=2, shuffle=False),
        generators={"generator": g},
        discriminators={"discriminator": d},
        objective=objective,
        g_optimizer=torch.optim.Adam(g.parameters(), lr=1e-3),
        d_optimizer=torch.optim.Adam(d.parameters(), lr=1e-3),
        n_critic=n_critic,
    )


@pytest.fixture
def paired_data():
    g = torch.Generator().manual_seed(1)
    return [
        {"image": torch.rand(1, 16, 16, generator=g), "label": torch.rand(1, 16, 16, generator=g)} for _ in range(4)
    ]


def test_paired_objective_defaults_to_common_keys_and_outputs_them(paired_data):
    gan = GANLoss("least_squares")
    objective = PairedAdversarialObjective(
        lambda pred, target, fake: {"total": (pred - target).abs().mean() + gan.generator_loss(fake)},
        gan.discriminator_loss,
    )
    trainer = paired_trainer(objective, paired_data)
    trainer.run()
    pred, label = from_engine([CommonKeys.PRED, CommonKeys.LABEL])(trainer.state.output)
    assert pred.shape == label.shape == (2, 1, 16, 16)
    torch.testing.assert_close(
        trainer.state.output[CommonKeys.IMAGE], torch.stack([d["image"] for d in paired_data[2:]])
    )
    torch.testing.assert_close(label, torch.stack([d["label"] for d in paired_data[2:]]))


@pytest.mark.parametrize("use_logits_fn", [False, True])
def test_a_monai_patch_discriminator_trains_in_the_paired_objective(paired_data, use_logits_fn):
    torch.manual_seed(0)
    patch = PatchDiscriminator(
        spatial_dims=2, num_layers_d=2, channels=4, in_channels=1, out_channels=1, norm="INSTANCE"
    )
    gan = GANLoss("least_squares")
    if use_logits_fn:  # configuration only: the objective hands the losses the logits of the list
        objective = PairedAdversarialObjective(
            lambda pred, target, fake: {"total": gan.generator_loss(fake)},
            gan.discriminator_loss,
            logits_fn=final_logits,
        )
    else:  # the losses receive the list (features, then logits) and pick the logits themselves
        objective = PairedAdversarialObjective(
            lambda pred, target, fake: {"total": gan.generator_loss(fake[-1])},
            lambda real, fake: gan.discriminator_loss(real[-1], fake[-1]),
        )
    trainer = paired_trainer(objective, paired_data, discriminator=patch)
    before = copy.deepcopy(patch.state_dict())
    trainer.run()
    losses = trainer.state.output[GenerativeKeys.LOSSES]
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert {"d_real_logit", "d_fake_logit", "d_total", "g_total"} <= set(losses)
    assert any(not torch.equal(before[k], v) for k, v in patch.state_dict().items())


# -- discriminator regulariser -----------------------------------------------------------------------------------


def wgan_objective(**kwargs):
    critic = GANLoss("wasserstein")
    return PairedAdversarialObjective(
        lambda pred, target, fake: {"total": critic.generator_loss(fake)}, critic.discriminator_loss, **kwargs
    )


def critic_gradients(objective, data):
    trainer = paired_trainer(objective, data[:2])
    grads = {}

    @trainer.on(GenerativeIterationEvents.DISCRIMINATOR_BACKWARD_COMPLETED)
    def keep(engine):
        grads.update({k: p.grad.clone() for k, p in engine.state.discriminators["discriminator"].named_parameters()})

    trainer.run()
    return grads, trainer.state.output[GenerativeKeys.LOSSES]


def test_gradient_penalty_changes_the_critic_gradients_and_is_logged(paired_data):
    plain, plain_losses = critic_gradients(wgan_objective(), paired_data)
    penalised, losses = critic_gradients(
        wgan_objective(discriminator_regularizer=lambda d, real, fake: gradient_penalty(d, real, fake, weight=10.0)),
        paired_data,
    )
    assert "d_regularizer" not in plain_losses and losses["d_regularizer"] > 0
    # WGAN critic loss = mean fake score - mean real score, plus the penalty
    assert losses["d_total"] == pytest.approx(
        losses["d_fake_logit"] - losses["d_real_logit"] + losses["d_regularizer"], rel=1e-5
    )
    assert any(not torch.allclose(plain[k], penalised[k]) for k in plain)


def test_lazy_r1_runs_every_nth_iteration_scaled_by_n(paired_data):
    objective = wgan_objective(
        discriminator_regularizer=lambda d, real, fake: r1_penalty(d, real, gamma=1.0), regularizer_every=2
    )
    trainer = paired_trainer(objective, paired_data + paired_data[:2])  # 3 iterations
    seen = []
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: seen.append(dict(e.state.output[GenerativeKeys.LOSSES]))
    )
    trainer.run()
    assert ["d_regularizer" in s for s in seen] == [True, False, True]
    for s in (seen[0], seen[2]):
        assert s["d_total"] == pytest.approx(s["d_fake_logit"] - s["d_real_logit"] + 2 * s["d_regularizer"], rel=1e-5)
    with pytest.raises(ValueError, match="regularizer_every"):
        wgan_objective(regularizer_every=0)


def test_regulariser_gets_the_logits_of_a_patch_discriminator(paired_data):
    torch.manual_seed(0)
    patch = PatchDiscriminator(
        spatial_dims=2, num_layers_d=2, channels=4, in_channels=1, out_channels=1, norm="INSTANCE"
    )
    critic = GANLoss("wasserstein")
    objective = PairedAdversarialObjective(
        lambda pred, target, fake: {"total": critic.generator_loss(fake)},
        critic.discriminator_loss,
        logits_fn=final_logits,
        discriminator_regularizer=gradient_penalty,
    )
    trainer = paired_trainer(objective, paired_data, discriminator=patch)
    trainer.run()
    assert torch.isfinite(torch.tensor(trainer.state.output[GenerativeKeys.LOSSES]["d_regularizer"]))


def test_base_objective_needs_only_generate():
    class Minimal(AdversarialObjective):
        def generate(self, networks, batch):
            return {}

    objective = Minimal()
    assert not objective.has_state and objective.state_dict() == {}
    objective.load_state_dict({})
    with pytest.raises(ValueError, match="has none"):
        objective.load_state_dict({"pool": 1})
    with pytest.raises(NotImplementedError):
        objective.discriminator_loss({}, {}, {})

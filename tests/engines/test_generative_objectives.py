from __future__ import annotations

import types

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.utils import CommonKeys

from monai_genmed.engines import (
    GenerativeAdversarialTrainer,
    LatentKeys,
    UnconditionalGANObjective,
    adam_lookahead,
    diversity_shortfall,
)
from monai_genmed.losses import GANLoss, gradient_penalty
from monai_genmed.networks.nets import DCGANDiscriminator, DCGANGenerator
from monai_genmed.utils.enums import GenerativeKeys


def gan_trainer(objective, data, max_epochs=1, batch_size=4, handlers=None, seed=0, n_critic=1, lr=2e-3, d=None):
    torch.manual_seed(seed)
    g = DCGANGenerator(latent_dim=objective.latent_dim, image_size=8, channels=(8,))
    d = DCGANDiscriminator(image_size=8, channels=(8,), norm=None) if d is None else d
    return GenerativeAdversarialTrainer(
        device="cpu",
        max_epochs=max_epochs,
        train_data_loader=DataLoader(data, batch_size=batch_size, shuffle=False),
        generators={"generator": g},
        discriminators={"discriminator": d},
        objective=objective,
        g_optimizer=torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999)),
        d_optimizer=torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999)),
        n_critic=n_critic,
        train_handlers=handlers,
    )


def bright_slices(n=16, value=0.8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"image": value + 0.02 * torch.randn(1, 8, 8, generator=g)} for _ in range(n)]


class LinearCritic(torch.nn.Module):
    """D(x) = <w, x>, recording what it is shown."""

    def __init__(self, weight: float = 0.1):
        super().__init__()
        self.w = torch.nn.Parameter(torch.full((1, 1, 8, 8), weight))
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return (x * self.w).flatten(1).sum(1, keepdim=True)


def test_outputs_and_logged_terms_of_a_gan_iteration():
    objective = UnconditionalGANObjective(GANLoss("non_saturating"), latent_dim=3)
    trainer = gan_trainer(objective, bright_slices(4))
    trainer.run()
    output = trainer.state.output
    assert output[CommonKeys.PRED].shape == output[CommonKeys.IMAGE].shape == (4, 1, 8, 8)
    assert output[LatentKeys.LATENT].shape == (4, 3)
    assert set(output[GenerativeKeys.LOSSES]) == {
        "g_total", "g_adversarial", "d_total", "d_adversarial", "d_real_logit", "d_fake_logit"
    }  # fmt: skip
    real, fake = objective.monitor_logits()
    assert real.shape == fake.shape == (4,)  # per sample, for the monitor's accuracy
    trainer.state.iteration += 1
    assert objective.monitor_logits() is None  # D has not stepped in this iteration


def test_a_trained_gan_moves_its_samples_towards_the_data():
    objective = UnconditionalGANObjective(GANLoss("non_saturating"), latent_dim=4)
    trainer = gan_trainer(objective, bright_slices(16), max_epochs=20)
    g = trainer.state.generators["generator"]
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(5))
    before = g.eval()(z).mean().item()
    trainer.run()
    after = g.eval()(z).mean().item()
    assert abs(after - 0.8) < 0.5 * abs(before - 0.8), (before, after)


def test_latents_come_from_the_objective_s_own_seeded_generator():
    a, b = UnconditionalGANObjective(latent_dim=5, seed=3), UnconditionalGANObjective(latent_dim=5, seed=3)
    torch.manual_seed(0)
    global_state = torch.get_rng_state()
    first = a.sample_latents(4)
    assert torch.equal(torch.get_rng_state(), global_state)  # the global generator is untouched
    torch.testing.assert_close(first, b.sample_latents(4))
    saved = a.state_dict()
    expected = a.sample_latents(4)
    c = UnconditionalGANObjective(latent_dim=5, seed=99)
    c.load_state_dict(saved)
    torch.testing.assert_close(c.sample_latents(4), expected)  # resumed: the next draw is the same
    assert not torch.allclose(UnconditionalGANObjective(latent_dim=5, seed=4).sample_latents(4), first)


def test_instance_noise_on_d_s_inputs_is_annealed_to_zero():
    critic = LinearCritic()
    objective = UnconditionalGANObjective(GANLoss("wasserstein"), latent_dim=2, instance_noise=0.5)
    data = [{"image": torch.zeros(1, 8, 8)} for _ in range(8)]
    trainer = gan_trainer(objective, data, max_epochs=4, batch_size=8, d=critic, lr=0.0)  # frozen weights
    stds = []

    @trainer.on(Events.ITERATION_COMPLETED)
    def record(engine):
        # the D step's first call sees the (zero) real images: what remains is the noise
        stds.append(critic.seen[-2].std().item())

    trainer.run()
    # 4 epochs of 1 iteration: progress 0, 1, 2, 3 of 4 epochs -> std 0.5, 0.375, 0.25, 0.125
    assert stds == pytest.approx([0.5, 0.375, 0.25, 0.125], rel=0.15)
    assert objective.noise_std() == pytest.approx(0.125)


def test_weight_penalty_and_gradient_penalty_are_added_to_d_s_loss():
    critic = LinearCritic(weight=0.1)  # |w| = 0.1 * 8 = 0.8
    objective = UnconditionalGANObjective(
        GANLoss("wasserstein"), latent_dim=2, weight_penalty=0.5, discriminator_regularizer=gradient_penalty
    )
    trainer = gan_trainer(objective, [{"image": torch.rand(1, 8, 8)} for _ in range(4)], d=critic, lr=0.0)
    trainer.run()
    losses = trainer.state.output[GenerativeKeys.LOSSES]
    assert losses["d_weight_penalty"] == pytest.approx(64 * 0.01)  # sum of w^2
    assert losses["d_regularizer"] == pytest.approx(10 * (0.8 - 1) ** 2, rel=1e-4)  # a linear critic's GP
    expected = losses["d_adversarial"] + 0.5 * losses["d_weight_penalty"] + losses["d_regularizer"]
    assert losses["d_total"] == pytest.approx(expected, rel=1e-5)


def test_generator_of_the_wrong_size_is_a_clear_error():
    objective = UnconditionalGANObjective(latent_dim=3)
    data = [{"image": torch.rand(1, 16, 16)} for _ in range(2)]
    trainer = gan_trainer(objective, data, d=DCGANDiscriminator(image_size=16, channels=(4, 4)))
    with pytest.raises(ValueError, match="image_size"):
        trainer.run()


@pytest.mark.parametrize("penalty", [False, True])
def test_the_gradient_penalty_changes_the_critic_s_update(penalty):
    """One SGD step of a linear critic D(x) = <w, x>: the penalty's gradient is 2 * 10 * (|w| - 1) * w / |w|."""
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=2, image_size=8, channels=(8,))
    data = [{"image": torch.rand(1, 8, 8)} for _ in range(4)]
    runs = {}
    for with_gp in (False, True):
        critic = LinearCritic(weight=0.1)  # |w| = 0.8, w / |w| = 0.125 in every entry
        objective = UnconditionalGANObjective(
            GANLoss("wasserstein"), latent_dim=2, discriminator_regularizer=gradient_penalty if with_gp else None
        )
        generator = DCGANGenerator(latent_dim=2, image_size=8, channels=(8,))
        generator.load_state_dict(g.state_dict())
        trainer = GenerativeAdversarialTrainer(
            device="cpu",
            max_epochs=1,
            train_data_loader=DataLoader(data, batch_size=4),
            generators={"generator": generator},
            discriminators={"discriminator": critic},
            objective=objective,
            g_optimizer=torch.optim.SGD(generator.parameters(), lr=0.0),
            d_optimizer=torch.optim.SGD(critic.parameters(), lr=0.01),
        )
        torch.manual_seed(1)
        trainer.run()
        runs[with_gp] = critic.w.detach().clone()
    # the update with the penalty is the one without it minus lr * (20 * (0.8 - 1) * 0.125) = +0.005 per weight
    difference = runs[True] - runs[False]
    if penalty:
        torch.testing.assert_close(difference, torch.full_like(difference, 0.005), rtol=1e-4, atol=1e-6)
    else:
        assert not torch.allclose(runs[False], torch.full_like(runs[False], 0.1))  # the critic did step


class ConstantGenerator(torch.nn.Module):
    """G(z) = p for every z: its gradient is the gradient of G's loss with respect to the image it makes."""

    def __init__(self, value: float = 0.3):
        super().__init__()
        self.p = torch.nn.Parameter(torch.full((1, 1, 8, 8), value))

    def forward(self, z):
        return self.p.expand(z.shape[0], -1, -1, -1)


def generator_gradient(objective, critic, generator, real):
    networks = {"generator": generator, "discriminator": critic}
    batch = {"image": real}
    outputs = objective.generate(networks, batch)
    for p in critic.parameters():
        p.requires_grad_(False)  # as the trainer freezes D in G's step
    generator.zero_grad()
    objective.generator_loss(networks, batch, outputs)[GenerativeKeys.TOTAL].backward()
    for p in critic.parameters():
        p.requires_grad_(True)
    return torch.cat([p.grad.flatten() for p in generator.parameters()])


@pytest.mark.parametrize("steps", [1, 3])
def test_an_unrolled_step_gives_g_the_gradient_through_d_s_look_ahead(steps):
    # Wasserstein critic D(x) = <w, x>: each look-ahead step moves w by -lr * (p - mean real), so G's loss
    # -<w_k, p> has the gradient -w + k * lr * (2 p - mean real) (Metz et al. 2017, eq. 12), against -w at k = 0
    lr = 0.1
    real = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    critic, generator = LinearCritic(weight=0.1), ConstantGenerator(0.3)
    plain = UnconditionalGANObjective(GANLoss("wasserstein"), latent_dim=2)
    unrolled = UnconditionalGANObjective(
        GANLoss("wasserstein"), latent_dim=2, unroll_steps=steps, unroll_learning_rate=lr
    )
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    grad_plain = generator_gradient(plain, critic, generator, real)
    grad_unrolled = generator_gradient(unrolled, critic, generator, real)
    torch.testing.assert_close(grad_plain, -critic.w.detach().flatten())
    expected = -critic.w.detach() + steps * lr * (2 * generator.p.detach() - real.mean(0, keepdim=True))
    torch.testing.assert_close(grad_unrolled, expected.flatten())
    assert not torch.allclose(grad_unrolled, grad_plain)
    for k, v in critic.state_dict().items():
        assert torch.equal(v, before[k])  # the look-ahead ran on a copy: D itself did not move


def test_unrolling_a_spectral_norm_dcgan_discriminator_leaves_it_and_its_power_iteration_untouched():
    torch.manual_seed(0)
    critic = DCGANDiscriminator(image_size=8, channels=(8,), norm=None, spectral_norm=True)
    generator = DCGANGenerator(latent_dim=3, image_size=8, channels=(8,))
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    real = torch.rand(4, 1, 8, 8)
    objective = UnconditionalGANObjective(latent_dim=3, unroll_steps=2, unroll_learning_rate=0.5, seed=1)
    grad_unrolled = generator_gradient(objective, critic, generator, real)
    for k, v in critic.state_dict().items():
        assert torch.equal(v, before[k]), k
    # a plain step's D forward does advance the power iteration (train mode): the check above can fail
    grad_plain = generator_gradient(UnconditionalGANObjective(latent_dim=3, seed=1), critic, generator, real)
    assert any(not torch.equal(v, before[k]) for k, v in critic.state_dict().items())
    assert torch.isfinite(grad_unrolled).all() and not torch.allclose(grad_unrolled, grad_plain)


class MarkAugment:
    """An 'augmentation' that adds 100, so every batch D saw shows whether it went through it."""

    def __call__(self, images):
        return images + 100.0


def test_augmentation_is_applied_to_real_and_fake_in_d_s_and_g_s_steps():
    critic = LinearCritic()
    objective = UnconditionalGANObjective(GANLoss("non_saturating"), latent_dim=2, augment=MarkAugment())
    trainer = gan_trainer(objective, bright_slices(4), batch_size=4, d=critic)
    trainer.run()
    # one iteration: G's step shows D the fakes, D's step the reals and the fakes: all three augmented
    assert len(critic.seen) == 3
    assert all(x.min() > 99.0 for x in critic.seen)
    real = torch.stack([s["image"] for s in bright_slices(4)])
    torch.testing.assert_close(critic.seen[1], real + 100.0)  # D's step: the real batch, augmented


def test_bad_unrolling_settings_name_the_key():
    with pytest.raises(ValueError, match="unroll_steps"):
        UnconditionalGANObjective(unroll_steps=-1)
    with pytest.raises(ValueError, match="unroll_steps"):
        UnconditionalGANObjective(unroll_steps=1.5)
    with pytest.raises(ValueError, match="unroll_learning_rate"):
        UnconditionalGANObjective(unroll_steps=2)
    with pytest.raises(TypeError, match="augment"):
        UnconditionalGANObjective(augment="translation")


def test_the_diversity_shortfall_is_one_for_a_collapsed_batch_and_zero_at_the_real_spread():
    real = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    varied = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    collapsed = varied[:1].expand(6, -1, -1, -1)
    assert diversity_shortfall(collapsed, real) == 1.0
    assert diversity_shortfall(real * 2, real) == 0.0  # more spread than the reals: no push
    spread = (varied[:3] - varied[3:]).abs().mean() / (real[:3] - real[3:]).abs().mean()
    torch.testing.assert_close(diversity_shortfall(varied, real), torch.relu(1 - spread))
    with pytest.raises(ValueError, match="at least 2"):
        diversity_shortfall(varied[:1], real[:1])


def test_the_diversity_term_is_added_to_g_s_loss_and_changes_its_gradient():
    torch.manual_seed(0)
    generator = DCGANGenerator(latent_dim=3, image_size=8, channels=(8,))
    critic = DCGANDiscriminator(image_size=8, channels=(8,), norm=None)
    real = torch.rand(4, 1, 8, 8)
    plain = UnconditionalGANObjective(latent_dim=3, seed=1)
    seeking = UnconditionalGANObjective(latent_dim=3, seed=1, diversity_weight=0.5)
    networks = {"generator": generator, "discriminator": critic}
    terms = seeking.generator_loss(networks, {"image": real}, seeking.generate(networks, {"image": real}))
    assert terms["diversity_shortfall"] > 0  # an untrained generator's samples are alike
    torch.testing.assert_close(terms[GenerativeKeys.TOTAL], terms["adversarial"] + 0.5 * terms["diversity_shortfall"])
    assert not torch.allclose(generator_gradient(plain, critic, generator, real),
                              generator_gradient(seeking, critic, generator, real))  # fmt: skip
    with pytest.raises(ValueError, match="diversity_weight"):
        UnconditionalGANObjective(diversity_weight=-1.0)


def test_the_pooled_diversity_shortfall_does_not_count_pixel_noise_as_diversity():
    g = torch.Generator().manual_seed(0)
    real = torch.nn.functional.interpolate(torch.rand(8, 1, 4, 4, generator=g), size=(16, 16))  # coarse shapes
    one_image = real[:1].expand(8, -1, -1, -1)
    noise = torch.randn(8, 1, 16, 16, generator=g).sign() * 0.5  # zero-mean pixel noise on the same image
    noisy_collapse = one_image + noise
    assert diversity_shortfall(noisy_collapse, real, pool=1) < 0.1  # pixels differ a lot: looks diverse
    assert diversity_shortfall(noisy_collapse, real, pool=4) > 0.5  # the 4x4 structure is the same image
    with pytest.raises(ValueError, match="pool"):
        diversity_shortfall(real, real, pool=0)


def test_the_adam_look_ahead_takes_the_step_d_s_own_adam_takes():
    """One look-ahead step from D's optimizer state equals the step torch's Adam then takes, moments included."""
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.5, 0.9))
    x = torch.randn(5, 3)
    for _ in range(3):  # some optimizer history: moments and a step count
        optimizer.zero_grad()
        net(x).pow(2).mean().backward()
        optimizer.step()
    params = {n: p.detach().clone().requires_grad_(True) for n, p in net.named_parameters()}
    loss = torch.func.functional_call(net, params, (x,)).pow(2).mean()
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    ahead = adam_lookahead(params, grads, list(net.parameters()), optimizer, {}, 0)
    optimizer.zero_grad()
    net(x).pow(2).mean().backward()
    optimizer.step()
    for name, p in net.named_parameters():
        torch.testing.assert_close(ahead[name], p.detach(), rtol=1e-5, atol=1e-7)
    assert ahead["weight"].requires_grad  # differentiable: G's gradient can pass through it


def test_an_adam_unrolled_step_needs_d_s_optimizer_and_changes_g_s_gradient():
    real = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    critic, generator = LinearCritic(weight=0.1), ConstantGenerator(0.3)
    objective = UnconditionalGANObjective(GANLoss("wasserstein"), latent_dim=2, unroll_steps=2, unroll_optimizer="adam")
    with pytest.raises(RuntimeError, match="d_optimizers"):
        generator_gradient(objective, critic, generator, real)  # no trainer: nothing to take Adam's state from
    optimizer = torch.optim.Adam(critic.parameters(), lr=0.05)
    objective._engine = lambda: types.SimpleNamespace(state=types.SimpleNamespace(d_optimizers={"d": optimizer}))
    grad_unrolled = generator_gradient(objective, critic, generator, real)
    grad_plain = generator_gradient(
        UnconditionalGANObjective(GANLoss("wasserstein"), latent_dim=2), critic, generator, real
    )
    assert torch.isfinite(grad_unrolled).all() and not torch.allclose(grad_unrolled, grad_plain)
    with pytest.raises(ValueError, match="unroll_optimizer"):
        UnconditionalGANObjective(unroll_steps=1, unroll_optimizer="rmsprop")


def test_an_adam_look_ahead_refuses_adam_settings_it_does_not_model():
    real = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    critic, generator = LinearCritic(weight=0.1), ConstantGenerator(0.3)
    objective = UnconditionalGANObjective(GANLoss("wasserstein"), latent_dim=2, unroll_steps=1, unroll_optimizer="adam")
    for settings in ({"weight_decay": 1e-4}, {"amsgrad": True}):
        optimizer = torch.optim.Adam(critic.parameters(), lr=0.05, **settings)
        objective._engine = lambda o=optimizer: types.SimpleNamespace(
            state=types.SimpleNamespace(d_optimizers={"d": o})
        )
        with pytest.raises(ValueError, match=f"sets \\['{next(iter(settings))}'\\].*unroll_optimizer='sgd'"):
            generator_gradient(objective, critic, generator, real)

"""Step groups: a VAE-GAN-shaped iteration of three groups, and the checks on a group list."""

from __future__ import annotations

import copy

import pytest
import torch
from monai.data import DataLoader

from monai_genmed.engines import (
    AdversarialObjective,
    GenerativeAdversarialTrainer,
    GenerativeIterationEvents,
    StepGroup,
)
from monai_genmed.utils.enums import GenerativeKeys


class EncoderDecoderCritic(AdversarialObjective):
    """VAE-GAN's three losses (Larsen et al. 2016), reduced to what the schedule needs: an encoder and a
    decoder trained on reconstruction (the decoder also against the critic), and the critic."""

    generator_names = ("encoder", "decoder")
    discriminator_names = ("critic",)

    def generate(self, networks, batch):
        return {"pred": networks["decoder"](networks["encoder"](batch["image"]))}

    def encoder_loss(self, networks, batch, outputs):
        return {GenerativeKeys.TOTAL: (outputs["pred"] - batch["image"]).abs().mean()}

    def decoder_loss(self, networks, batch, outputs):
        recon = (outputs["pred"] - batch["image"]).abs().mean()
        adversarial = -networks["critic"](outputs["pred"]).mean()
        return {GenerativeKeys.TOTAL: recon + 0.1 * adversarial, "reconstruction": recon, "adversarial": adversarial}

    def discriminator_loss(self, networks, batch, outputs):
        critic = networks["critic"]
        return {GenerativeKeys.TOTAL: critic(outputs["pred"]).mean() - critic(batch["image"]).mean()}


def vaegan_trainer(groups=None, **kwargs):
    """The trainer of :class:`EncoderDecoderCritic`; ``groups(optimizers)`` builds other step groups."""
    torch.manual_seed(0)
    nets = {
        "encoder": torch.nn.Conv2d(1, 2, 3, stride=2, padding=1),
        "decoder": torch.nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1),
        "critic": torch.nn.Conv2d(1, 1, 4, stride=2, padding=1),
    }
    opts = {name: torch.optim.SGD(net.parameters(), lr=0.1) for name, net in nets.items()}
    if groups is not None:
        step_groups = groups(opts)
    else:
        step_groups = [
            StepGroup("encoder", ["encoder"], opts["encoder"], "encoder_loss"),
            StepGroup("decoder", ["decoder"], opts["decoder"], "decoder_loss", outputs="regenerate", role="generator"),
            StepGroup(
                "critic", ["critic"], opts["critic"], "discriminator_loss", outputs="detached", role="discriminator"
            ),
        ]
    data = [{"image": torch.rand(1, 16, 16)} for _ in range(4)]
    trainer = GenerativeAdversarialTrainer(
        device="cpu",
        max_epochs=1,
        train_data_loader=DataLoader(data, batch_size=2),
        generators={"encoder": nets["encoder"], "decoder": nets["decoder"]},
        discriminators={"critic": nets["critic"]},
        objective=EncoderDecoderCritic(),
        step_groups=step_groups,
        **kwargs,
    )
    return trainer, nets, opts


def test_three_step_groups_run_in_order_with_the_other_networks_frozen():
    trainer, nets, _ = vaegan_trainer()
    user_frozen = nets["critic"].bias
    user_frozen.requires_grad_(False)  # frozen on purpose: the trainer must not release it
    calls = []

    @trainer.on(GenerativeIterationEvents.GROUP_LOSS_COMPLETED)
    def record(engine):
        group = engine.state.step_group
        frozen = sorted(n for n, net in nets.items() if not any(p.requires_grad for p in net.parameters()))
        calls.append((engine.state.iteration, group.name, frozen))

    critic_grads = {}

    @trainer.on(GenerativeIterationEvents.GENERATOR_BACKWARD_COMPLETED)
    def decoder_backward(engine):  # the decoder's adversarial term ran through the frozen critic
        critic_grads.setdefault(engine.state.iteration, nets["critic"].weight.grad)

    before = {n: copy.deepcopy(net.state_dict()) for n, net in nets.items()}
    trainer.run()
    assert calls == [
        (it, name, frozen)
        for it in (1, 2)
        for name, frozen in (
            ("encoder", ["critic", "decoder"]),
            ("decoder", ["critic", "encoder"]),
            ("critic", ["decoder", "encoder"]),
        )
    ]
    assert critic_grads[1] is None  # no gradient reached the frozen critic's weights in iteration 1
    assert all(p.requires_grad for net in nets.values() for p in net.parameters() if p is not user_frozen)
    assert not user_frozen.requires_grad
    for name, net in nets.items():
        assert any(not torch.equal(before[name][k], v) for k, v in net.state_dict().items()), name
    losses = trainer.state.output[GenerativeKeys.LOSSES]
    assert set(losses) == {
        "encoder_total",
        "decoder_total",
        "decoder_reconstruction",
        "decoder_adversarial",
        "critic_total",
    }
    assert trainer.state.step_group is None


def test_groups_with_their_own_optimizers_and_scalers_are_checkpointed():
    trainer, _, _ = vaegan_trainer()
    objects = trainer.checkpoint_objects()
    assert {"optimizer_encoder_optimizer", "optimizer_decoder_optimizer", "optimizer_critic_optimizer"} <= set(objects)
    assert {"encoder_scaler", "decoder_scaler", "critic_scaler"} <= set(objects)
    assert "objective" not in objects  # a stateless objective adds nothing, so older checkpoints still resume
    assert set(trainer.state.g_optimizers) == {"decoder_optimizer"} and set(trainer.state.d_optimizers) == {
        "critic_optimizer"
    }


def test_a_group_every_other_iteration_and_a_regenerating_group_alone():
    runs = []

    def groups(opts):
        return [
            StepGroup("encoder", ["encoder"], opts["encoder"], "encoder_loss", every=2),
            StepGroup("decoder", ["decoder"], opts["decoder"], "decoder_loss", outputs="regenerate"),
        ]

    trainer, _, _ = vaegan_trainer(groups)
    trainer.add_event_handler(
        GenerativeIterationEvents.GROUP_STEP_COMPLETED,
        lambda e: runs.append((e.state.iteration, e.state.step_group.name)),
    )
    trainer.run()
    assert runs == [(1, "encoder"), (1, "decoder"), (2, "decoder")]


def test_a_second_group_on_a_graph_the_first_has_stepped_is_told_to_regenerate():
    def groups(opts):
        return [
            StepGroup("decoder", ["decoder"], opts["decoder"], "encoder_loss"),
            StepGroup("encoder", ["encoder"], opts["encoder"], "encoder_loss"),
        ]

    trainer, _, _ = vaegan_trainer(groups)
    with pytest.raises(RuntimeError, match="outputs='regenerate'"):
        trainer.run()


@pytest.mark.parametrize(
    "change, error, message",
    [
        ([("a", "encoder", None, "encoder_loss"), ("a", "decoder", None, "decoder_loss")], ValueError, "unique"),
        ([("a", "nobody", None, "encoder_loss")], KeyError, "nobody"),
        ([("a", "encoder", None, "no_such_loss")], AttributeError, "no_such_loss"),
        ([("a", "encoder", "x", "encoder_loss"), ("b", "decoder", "x", "decoder_loss")], ValueError, "'x' is used"),
        ([], ValueError, "at least one step group"),
    ],
)
def test_invalid_step_groups_are_clear_errors(change, error, message):
    def groups(opts):
        return [
            StepGroup(
                name,
                [net],
                opts.get(net, opts["encoder"]) if opt is None else {opt: opts.get(net, opts["encoder"])},
                loss,
            )
            for name, net, opt, loss in change
        ]

    with pytest.raises(error, match=message):
        vaegan_trainer(groups)


def test_step_groups_exclude_the_default_group_arguments():
    with pytest.raises(ValueError, match="either step_groups or"):
        vaegan_trainer(lambda opts: [StepGroup("a", ["encoder"], opts["encoder"], "encoder_loss")], n_critic=2)


def test_step_group_arguments_are_checked():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="every"):
        StepGroup("g", ["g"], opt, "generator_loss", every=0)
    with pytest.raises(TypeError, match="list of names"):
        StepGroup("g", "g", opt, "generator_loss")
    with pytest.raises(ValueError):
        StepGroup("g", ["g"], opt, "generator_loss", outputs="sometimes")
    assert StepGroup("g", ["g"], opt, "generator_loss").optimizers == {"g_optimizer": opt}

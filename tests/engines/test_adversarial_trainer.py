from __future__ import annotations

import copy

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader

from monai_genmed.engines import (
    CycleGANObjective,
    GenerativeAdversarialTrainer,
    GenerativeIterationEvents,
    PairedAdversarialObjective,
)
from monai_genmed.handlers import TrainingCheckpointer
from monai_genmed.utils.enums import GenerativeKeys

from .conftest import tiny_discriminator, tiny_generator


def weights(trainer):
    return {name: copy.deepcopy(net.state_dict()) for name, net in trainer.networks.items()}


def test_two_iterations_with_two_generators_and_two_discriminators_change_every_network(
    build_two_domain_trainer, two_domain_data
):
    trainer = build_two_domain_trainer(two_domain_data[:4])  # batch 2 -> 2 iterations
    before = weights(trainer)
    trainer.run()
    assert trainer.state.iteration == 2
    after = weights(trainer)
    for name in before:
        changed = [k for k in before[name] if not torch.equal(before[name][k], after[name][k])]
        assert changed, f"network {name} did not change"
    losses = trainer.state.output[GenerativeKeys.LOSSES]
    assert {"g_total", "g_cycle", "g_adversarial", "d_total"} <= set(losses)
    assert trainer.state.output["fake_b"].shape == (2, 1, 32, 32)
    assert not trainer.state.output["fake_b"].requires_grad


def test_n_critic_steps_the_generators_every_nth_iteration(build_two_domain_trainer, two_domain_data):
    trainer = build_two_domain_trainer(two_domain_data * 2, n_critic=2)  # 4 iterations
    counts = {"g": 0, "d": 0}
    trainer.add_event_handler(
        GenerativeIterationEvents.GENERATOR_STEP_COMPLETED, lambda e: counts.__setitem__("g", counts["g"] + 1)
    )
    trainer.add_event_handler(
        GenerativeIterationEvents.DISCRIMINATOR_STEP_COMPLETED, lambda e: counts.__setitem__("d", counts["d"] + 1)
    )
    trainer.run()
    assert counts == {"g": 2, "d": 4}
    g_steps = trainer.state.g_optimizers["g_optimizer"].state[trainer.state.generators["g_ab"][0].weight]["step"]
    assert int(g_steps) == 2


def test_discriminators_are_not_updated_by_the_generator_step(build_two_domain_trainer, two_domain_data):
    trainer = build_two_domain_trainer(two_domain_data[:2])
    snapshot = {}

    def before_d_step(engine):
        snapshot.update({k: copy.deepcopy(v.state_dict()) for k, v in engine.state.discriminators.items()})

    trainer.add_event_handler(GenerativeIterationEvents.GENERATOR_STEP_COMPLETED, before_d_step)
    start = {k: copy.deepcopy(v.state_dict()) for k, v in trainer.state.discriminators.items()}
    trainer.run()
    for name in start:
        for key in start[name]:
            torch.testing.assert_close(snapshot[name][key], start[name][key])
        # and they train again afterwards
        assert any(p.requires_grad for p in trainer.state.discriminators[name].parameters())


def test_cpu_bf16_autocast_runs(build_two_domain_trainer, two_domain_data):
    trainer = build_two_domain_trainer(two_domain_data[:2], amp=True)
    trainer.run()
    assert trainer.amp_dtype == torch.bfloat16
    assert not trainer.state.g_scaler.is_enabled()  # no gradient scaling is needed for bf16
    assert torch.isfinite(torch.tensor(trainer.state.output[GenerativeKeys.LOSSES]["g_total"]))


def test_non_finite_loss_stops_with_a_clear_error(build_two_domain_trainer, two_domain_data):
    data = [dict(x) for x in two_domain_data[:2]]
    data[0]["a"] = torch.full_like(data[0]["a"], float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite generator loss"):
        build_two_domain_trainer(data).run()


def test_objective_names_networks_it_needs():
    g = torch.nn.Conv2d(1, 1, 1)
    objective = PairedAdversarialObjective(
        lambda p, t, f: {"total": p.mean()}, lambda r, f: r.mean(), discriminator="critic"
    )
    with pytest.raises(KeyError, match="needs networks \\['critic'\\]"):
        GenerativeAdversarialTrainer(
            "cpu",
            1,
            DataLoader([]),
            {"generator": g},
            objective,
            torch.optim.SGD(g.parameters(), lr=0.1),
            {"discriminator": torch.nn.Conv2d(1, 1, 1)},
            torch.optim.SGD(g.parameters(), lr=0.1),
        )


def test_resumed_run_continues_from_the_saved_epoch(build_two_domain_trainer, two_domain_data, tmp_path):
    # first run: 2 epochs of 2 iterations, checkpoint every epoch
    first = build_two_domain_trainer(two_domain_data, max_epochs=2, handlers=[TrainingCheckpointer(str(tmp_path))])
    first.run()
    saved = weights(first)
    assert (tmp_path / "checkpoint_epoch=2.pt").exists()

    # second run: fresh networks (another seed), 3 epochs requested; it must pick up at epoch 2, iteration 4
    checkpointer = TrainingCheckpointer(str(tmp_path))
    second = build_two_domain_trainer(two_domain_data, max_epochs=3, handlers=[checkpointer], seed=1)
    seen = {}

    @second.on(Events.EPOCH_STARTED)
    def record(engine):
        seen.setdefault("first_epoch", engine.state.epoch)
        seen.setdefault("first_iteration", engine.state.iteration)
        seen.setdefault("weights", weights(engine))

    iterations = []
    second.add_event_handler(Events.ITERATION_COMPLETED, lambda e: iterations.append(e.state.iteration))
    second.run()
    assert checkpointer.resumed_from.endswith("checkpoint_epoch=2.pt")
    assert seen["first_epoch"] == 3 and seen["first_iteration"] == 4
    assert iterations == [5, 6]
    for name in saved:
        for key in saved[name]:
            torch.testing.assert_close(seen["weights"][name][key], saved[name][key])
    # the optimizers were restored too: Adam's step count went on from 4 (2 epochs x 2 iterations)
    g_opt = second.state.g_optimizers["g_optimizer"]
    assert int(g_opt.state[second.state.generators["g_ab"][0].weight]["step"]) == 6
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_epoch=3.pt"]  # n_saved=1


def test_killed_run_loses_no_finished_epoch(build_two_domain_trainer, two_domain_data, tmp_path):
    run = build_two_domain_trainer(two_domain_data, max_epochs=3, handlers=[TrainingCheckpointer(str(tmp_path))])

    @run.on(Events.ITERATION_COMPLETED(once=5))
    def crash(engine):
        raise KeyboardInterrupt("power cut in epoch 3")

    with pytest.raises(KeyboardInterrupt):
        run.run()
    assert [p.name for p in tmp_path.glob("*.pt")] == ["checkpoint_epoch=2.pt"]
    assert not [p for p in tmp_path.iterdir() if p.suffix != ".pt" and p.name != ".lock"]  # no half-written temporary
    again = build_two_domain_trainer(two_domain_data, max_epochs=3, handlers=[TrainingCheckpointer(str(tmp_path))])
    again.run()
    assert again.state.epoch == 3 and again.state.iteration == 6


class _Counter:
    """A stateful extra object, as a config might add after a checkpoint was written."""

    def __init__(self):
        self.count = 7

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = state["count"]


def test_checkpoint_without_a_newer_extra_object_still_resumes(build_two_domain_trainer, two_domain_data, tmp_path):
    build_two_domain_trainer(two_domain_data, max_epochs=1, handlers=[TrainingCheckpointer(str(tmp_path))]).run()
    counter = _Counter()
    checkpointer = TrainingCheckpointer(str(tmp_path), extra_objects={"counter": counter})
    resumed = build_two_domain_trainer(two_domain_data, max_epochs=2, handlers=[checkpointer])
    resumed.run()
    assert checkpointer.resumed_from.endswith("checkpoint_epoch=1.pt") and resumed.state.iteration == 4
    assert counter.count == 7  # started fresh
    assert torch.load(tmp_path / "checkpoint_epoch=2.pt", weights_only=True)["counter"] == {"count": 7}


def test_checkpoint_missing_a_network_is_a_clear_error(build_two_domain_trainer, two_domain_data, tmp_path):
    build_two_domain_trainer(two_domain_data, max_epochs=1, handlers=[TrainingCheckpointer(str(tmp_path))]).run()
    state = torch.load(tmp_path / "checkpoint_epoch=1.pt", weights_only=True)
    del state["network_g_ab"]
    torch.save(state, tmp_path / "checkpoint_epoch=1.pt")
    broken = build_two_domain_trainer(two_domain_data, max_epochs=2, handlers=[TrainingCheckpointer(str(tmp_path))])
    with pytest.raises(RuntimeError, match="could not resume .*delete it"):
        broken.run()


def test_an_empty_training_loader_is_an_error_that_names_the_fix(build_two_domain_trainer, two_domain_data):
    trainer = build_two_domain_trainer(two_domain_data[:3], batch_size=4, drop_last=True)
    with pytest.raises(ValueError, match=r"batch_size=4, dataset length=3, drop_last=True.*Lower batch_size"):
        trainer.run()


def test_stateless_objectives_keep_the_checkpoint_keys_of_older_runs(build_two_domain_trainer, two_domain_data):
    keys = set(build_two_domain_trainer(two_domain_data).checkpoint_objects())
    assert keys == {
        "trainer",
        "network_g_ab",
        "network_g_ba",
        "network_d_a",
        "network_d_b",
        "optimizer_g_optimizer",
        "optimizer_d_a",
        "optimizer_d_b",
        "g_scaler",
        "d_scaler",
    }


def cyclegan_trainer(max_epochs, handlers=None, seed=0):
    g = torch.Generator().manual_seed(0)
    data = [{"mr": torch.rand(1, 16, 16, generator=g), "ct": torch.rand(1, 16, 16, generator=g)} for _ in range(4)]
    torch.manual_seed(seed)
    gens = {"syn_ct": tiny_generator(), "syn_mr": tiny_generator()}
    discs = {"dis_mr": tiny_discriminator(), "dis_ct": tiny_discriminator()}
    objective = CycleGANObjective(
        g_ab="syn_ct",
        g_ba="syn_mr",
        d_a="dis_mr",
        d_b="dis_ct",
        key_a="mr",
        key_b="ct",
        lambda_identity=5.0,
        pool_size=3,
    )
    return GenerativeAdversarialTrainer(
        device="cpu",
        max_epochs=max_epochs,
        train_data_loader=DataLoader(data, batch_size=2, shuffle=False),
        generators=gens,
        discriminators=discs,
        objective=objective,
        g_optimizer=torch.optim.Adam(
            [p for net in gens.values() for p in net.parameters()], lr=2e-4, betas=(0.5, 0.999)
        ),
        d_optimizer={k: torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999)) for k, d in discs.items()},
        train_handlers=handlers,
    )


def record_losses(trainer):
    losses = {}
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED,
        lambda e: losses.__setitem__(e.state.iteration, dict(e.state.output[GenerativeKeys.LOSSES])),
    )
    return losses


def pool_images(objective):
    return {k: torch.stack(pool.images) for k, pool in (("a", objective.pool_a), ("b", objective.pool_b))}


def test_resumed_cyclegan_run_continues_with_its_image_pools(tmp_path):
    uninterrupted = cyclegan_trainer(max_epochs=3)
    reference = record_losses(uninterrupted)
    uninterrupted.run()

    cyclegan_trainer(max_epochs=2, handlers=[TrainingCheckpointer(str(tmp_path))]).run()
    saved = torch.load(tmp_path / "checkpoint_epoch=2.pt", weights_only=True)
    assert set(saved["objective"]) == {"pool_a", "pool_b"} and len(saved["objective"]["pool_a"]["images"]) == 3

    checkpointer = TrainingCheckpointer(str(tmp_path))
    resumed = cyclegan_trainer(max_epochs=3, handlers=[checkpointer], seed=1)  # other weights, empty pools
    assert len(resumed.objective.pool_a) == 0
    losses = record_losses(resumed)
    resumed.run()
    assert checkpointer.resumed_from.endswith("checkpoint_epoch=2.pt")
    assert sorted(losses) == [5, 6]
    assert {"g_identity_a", "g_cycle_b", "d_adversarial_a", "d_adversarial_b"} <= set(losses[5])
    for iteration in (5, 6):
        torch.testing.assert_close(losses[iteration], reference[iteration], rtol=1e-6, atol=1e-8)
    for domain, images in pool_images(uninterrupted.objective).items():
        torch.testing.assert_close(pool_images(resumed.objective)[domain], images, rtol=0, atol=0)
    torch.testing.assert_close(
        resumed.objective.pool_a.generator.get_state(),
        uninterrupted.objective.pool_a.generator.get_state(),
        rtol=0,
        atol=0,
    )


def test_handlers_clip_a_critic_and_watch_gradient_norms_per_group(build_two_domain_trainer, two_domain_data):
    trainer = build_two_domain_trainer(two_domain_data)
    norms = []

    @trainer.on(GenerativeIterationEvents.DISCRIMINATOR_STEP_COMPLETED)
    def clip_weights(engine):  # WGAN (Arjovsky et al. 2017): the critic's weights stay in [-c, c]
        for name in engine.state.step_group.networks:
            for p in engine.state.discriminators[name].parameters():
                p.data.clamp_(-0.01, 0.01)

    @trainer.on(GenerativeIterationEvents.GROUP_BACKWARD_COMPLETED)
    def watch(engine):
        group = engine.state.step_group
        grads = [p.grad.norm() for n in group.networks for p in engine.networks[n].parameters() if p.grad is not None]
        norms.append((engine.state.iteration, group.name, float(torch.stack(grads).norm())))

    trainer.run()
    assert [(it, name) for it, name, _ in norms] == [(1, "g"), (1, "d"), (2, "g"), (2, "d")]
    assert all(n > 0 for _, _, n in norms)
    for d in trainer.state.discriminators.values():
        assert all(p.abs().max() <= 0.01 for p in d.parameters())

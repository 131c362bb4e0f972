from __future__ import annotations

import logging

import pytest
import torch
import torch.nn as nn
from ignite.engine import Engine

from monai_genmed.engines.utils import GenerativeIterationEvents
from monai_genmed.handlers import GANMonitor, GANMonitorKeys
from monai_genmed.metrics import FrechetDistance

K = GANMonitorKeys


def logit_engine(outputs, epoch_length=None, max_epochs=1, register_events=False, step=None):
    """An engine whose iteration ``i`` returns ``outputs[(i - 1) % len(outputs)]``; ``step(engine)`` runs first."""

    def process(engine, _):
        if step is not None:
            step(engine)
        return outputs[(engine.state.iteration - 1) % len(outputs)]

    engine = Engine(process)
    if register_events:
        engine.register_events(*GenerativeIterationEvents)
    length = epoch_length or len(outputs)
    return engine, dict(data=range(length), max_epochs=max_epochs, epoch_length=length)


def per_sample(real, fake):
    return {"real_logits": torch.tensor(real), "fake_logits": torch.tensor(fake)}


def mean_logits(real, fake):
    return {"losses": {"d_real_logit": real, "d_fake_logit": fake, "d_total": 1.0}}


def test_accuracy_and_d_outputs_from_per_sample_logits():
    engine, run = logit_engine([per_sample([2.0, -1.0, 3.0, 1.0], [-2.0, 1.0, -1.0, -3.0])])
    GANMonitor(log_every=1).attach(engine)
    engine.run(**run)
    m = engine.state.metrics
    assert (m[K.D_ACCURACY_REAL], m[K.D_ACCURACY_FAKE], m[K.D_ACCURACY]) == (0.75, 0.75, 0.75)
    assert m[K.D_REAL] == pytest.approx(float(torch.sigmoid(torch.tensor([2.0, -1.0, 3.0, 1.0])).mean()))
    assert m[K.D_FAKE] == pytest.approx(float(torch.sigmoid(torch.tensor([-2.0, 1.0, -1.0, -3.0])).mean()))


def test_mean_logits_of_the_objectives_are_read_from_the_losses():
    # iteration 1: D right on both; iteration 2: the mean fake logit is on the real side
    engine, run = logit_engine([mean_logits(0.4, -0.2), mean_logits(0.4, 0.3)])
    GANMonitor(log_every=2).attach(engine)
    engine.run(**run)
    m = engine.state.metrics
    assert (m[K.D_ACCURACY_REAL], m[K.D_ACCURACY_FAKE]) == (1.0, 0.5)
    assert m[K.D_REAL] == pytest.approx(float(torch.sigmoid(torch.tensor(0.4))))


@pytest.mark.parametrize(
    "mode, real, fake, expected_real, expected_fake",
    [
        ("least_squares", [0.6, 0.4], [0.45, 0.7], 0.5, 0.5),  # threshold real_label / 2 = 0.5
        ("wasserstein", [3.0, -1.0], [-5.0, -2.0], 1.0, 1.0),  # midpoint of the means: -1.25
        ("wasserstein", [57.0, 56.0], [49.0, 48.0], 1.0, 1.0),  # all scores drifted above 0: still told apart
        ("wasserstein", [50.0, 48.0], [49.0, 51.0], 0.5, 0.5),  # overlapping scores: chance
        ("hinge", [0.5, -0.2], [-0.3, 0.4], 0.5, 0.5),  # sign of the critic's scores
    ],
)
def test_threshold_and_raw_outputs_of_other_objectives(mode, real, fake, expected_real, expected_fake):
    engine, run = logit_engine([per_sample(real, fake)])
    GANMonitor(log_every=1, mode=mode).attach(engine)
    engine.run(**run)
    m = engine.state.metrics
    assert (m[K.D_ACCURACY_REAL], m[K.D_ACCURACY_FAKE]) == (expected_real, expected_fake)
    assert (m[K.D_REAL], m[K.D_FAKE]) == pytest.approx((sum(real) / 2, sum(fake) / 2))


def test_custom_output_transform():
    engine, run = logit_engine([{"d": (torch.tensor([1.0]), torch.tensor([-1.0]))}])
    GANMonitor(log_every=1, output_transform=lambda out: out["d"]).attach(engine)
    engine.run(**run)
    assert engine.state.metrics[K.D_ACCURACY] == 1.0


BALANCED = per_sample([1.0, -1.0], [1.0, -1.0])  # 50 % on real and on fake
CONFIDENT = per_sample([1.0, 1.0], [-1.0, -1.0])  # 100 %


def test_balanced_discriminator_stops_after_patience_and_not_before(caplog):
    engine, run = logit_engine([BALANCED], epoch_length=100)
    monitor = GANMonitor(log_every=10, accuracy_window=5, patience_iterations=10)
    monitor.attach(engine)
    with caplog.at_level(logging.INFO):
        engine.run(**run)
    # the window is full at iteration 5, which is the first balanced one: the 10th is iteration 14
    assert engine.state.iteration == 14
    assert "50 %" in monitor.stop_reason and "GANMonitor stops training" in caplog.text


def test_one_unbalanced_window_resets_the_count():
    # accuracy 0.5 everywhere except iteration 12 (1.0): windows 12-16 average 0.6, outside 0.5 +/- 0.05
    outputs = [BALANCED] * 11 + [CONFIDENT] + [BALANCED] * 88
    engine, run = logit_engine(outputs)
    monitor = GANMonitor(log_every=10, accuracy_window=5, patience_iterations=10)
    monitor.attach(engine)
    engine.run(**run)
    assert engine.state.iteration == 16 + 10


def test_a_discriminator_that_wins_never_stops():
    engine, run = logit_engine([CONFIDENT], epoch_length=30)
    monitor = GANMonitor(log_every=10, accuracy_window=5, patience_iterations=5)
    monitor.attach(engine)
    engine.run(**run)
    assert engine.state.iteration == 30 and monitor.stop_reason is None


class MeanStd(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3)), x[..., :32, :].mean((1, 2, 3))], 1)


def fd_setup(offsets, fd_patience, **kwargs):
    """A monitor whose generator, at epoch e, returns the real images' distribution shifted by offsets[e - 1]."""
    real = torch.rand(32, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    engine, run = logit_engine([CONFIDENT], epoch_length=2, max_epochs=len(offsets))

    fake = torch.rand(32, 1, 64, 64, generator=torch.Generator().manual_seed(1))

    def sample(z):
        return fake[: z.shape[0]] + offsets[engine.state.epoch - 1]

    monitor = GANMonitor(
        log_every=2,
        sample_fn=sample,
        latent_shape=(32,),
        frechet_distance=FrechetDistance(MeanStd(), name="FD (test)"),
        real_images=real,
        fd_patience=fd_patience,
        diversity_pairs=8,
        **kwargs,
    )
    monitor.attach(engine)
    return engine, run, monitor


def test_fd_patience_stops_when_fd_stalls():
    engine, run, monitor = fd_setup([0.5, 0.3, 0.1, 0.2, 0.3, 0.4, 0.5], fd_patience=2)
    engine.run(**run)
    assert engine.state.epoch == 5  # best at epoch 3; epochs 4 and 5 do not improve
    fds = monitor.history["epoch"][str(K.FD)]
    assert fds[2] == min(fds) and monitor.best_fd == fds[2]
    assert "FD (test) has not improved" in monitor.stop_reason
    assert {K.FD, K.DIVERSITY, K.DIVERSITY_REAL} <= set(engine.state.metrics)


def test_improving_fd_trains_to_the_end():
    engine, run, _ = fd_setup([0.5, 0.4, 0.3, 0.2], fd_patience=1)
    engine.run(**run)
    assert engine.state.epoch == 4


def test_state_round_trip_and_a_stopped_run_stays_stopped(tmp_path, caplog):
    engine, run, monitor = fd_setup([0.5, 0.3, 0.1, 0.2, 0.3, 0.4, 0.5], fd_patience=2)
    engine.run(**run)
    path = tmp_path / "monitor.pt"
    torch.save(monitor.state_dict(), path)
    state = torch.load(path, weights_only=True)  # as TrainingCheckpointer reads it
    resumed_engine, resumed_run, resumed = fd_setup([0.5] * 3, fd_patience=2)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == monitor.state_dict()
    with caplog.at_level(logging.INFO):
        resumed_engine.run(**resumed_run)
    assert resumed_engine.state.iteration == 0 and "the resumed run had stopped" in caplog.text


def test_resumed_counter_continues():
    first_engine, first_run = logit_engine([BALANCED], epoch_length=10)
    first = GANMonitor(log_every=10, accuracy_window=5, patience_iterations=10)
    first.attach(first_engine)
    first_engine.run(**first_run)  # iterations 5-10 balanced: 6 counted
    assert first.balanced_iterations == 6
    engine, run = logit_engine([BALANCED], epoch_length=10)
    resumed = GANMonitor(log_every=10, accuracy_window=5, patience_iterations=10)
    resumed.load_state_dict(first.state_dict())
    resumed.attach(engine)
    engine.run(**run)
    assert engine.state.iteration == 4 and resumed.stop_reason is not None


def test_training_time_is_logged_per_epoch_and_carried_across_a_resume():
    """CPU and wall seconds per epoch (cumulative) let a comparison read every run at equal cost."""

    def busy(engine):
        sum(i * i for i in range(20000))  # CPU work in every iteration

    engine, run = logit_engine([CONFIDENT], epoch_length=5, max_epochs=3, step=busy)
    monitor = GANMonitor(log_every=5)
    monitor.attach(engine)
    engine.run(**run)
    cpu, wall = monitor.history["epoch"][str(K.CPU_SECONDS)], monitor.history["epoch"][str(K.WALL_SECONDS)]
    assert len(cpu) == len(wall) == 3 and 0 < cpu[0] < cpu[1] < cpu[2] and 0 < wall[0] < wall[1] < wall[2]
    assert engine.state.metrics[K.CPU_SECONDS] == cpu[-1]
    resumed_engine, resumed_run = logit_engine([CONFIDENT], epoch_length=5, max_epochs=1, step=busy)
    resumed = GANMonitor(log_every=5)
    resumed.load_state_dict(monitor.state_dict())
    resumed.attach(resumed_engine)
    resumed_engine.run(**resumed_run)
    assert resumed.history["epoch"][str(K.CPU_SECONDS)][-1] > cpu[-1]  # counts on from the first run's total


def test_generator_gradient_norm_at_the_backward_event():
    generator = nn.Linear(2, 2, bias=False)

    def step(engine):
        generator.weight.grad = torch.full((2, 2), 3.0)  # norm 6
        engine.fire_event(GenerativeIterationEvents.GENERATOR_BACKWARD_COMPLETED)
        generator.weight.grad = None  # zeroed before ITERATION_COMPLETED: only the event sees it

    engine, run = logit_engine([CONFIDENT], register_events=True, step=step)
    GANMonitor(log_every=1, generator_parameters=generator).attach(engine)
    engine.run(**run)
    assert engine.state.metrics[K.G_GRAD_NORM] == pytest.approx(6.0)


def test_generator_gradient_norm_without_the_event_reads_remaining_grads():
    generator = nn.Linear(2, 2, bias=False)

    def step(engine):
        generator.weight.grad = torch.full((2, 2), 0.5)  # norm 1

    engine, run = logit_engine([CONFIDENT], step=step)
    GANMonitor(log_every=1, generator_parameters=lambda e: [generator.weight]).attach(engine)
    engine.run(**run)
    assert engine.state.metrics[K.G_GRAD_NORM] == pytest.approx(1.0)


class RecordingWriter:
    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))


def test_tensorboard_and_plot(tmp_path):
    writer = RecordingWriter()
    plot_path = str(tmp_path / "gan.png")
    engine, run, monitor = fd_setup([0.5, 0.3], fd_patience=None, summary_writer=writer, plot_path=plot_path)
    engine.run(**run)
    tags = {tag for tag, _, _ in writer.scalars}
    assert "gan/gan_d_accuracy" in tags and "gan/epoch/gan_fd" in tags
    assert (tmp_path / "gan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert None not in monitor.history["epoch"][str(K.FD)]


def test_fd_patience_needs_a_sampler():
    with pytest.raises(ValueError, match="fd_patience needs sample_fn and frechet_distance"):
        GANMonitor(fd_patience=3)


def test_the_stop_reason_is_a_warning_so_a_bundle_run_prints_it(caplog):
    """`monai.bundle run` gives this package's logger no handler: only records at WARNING or above reach the
    terminal (Python's last-resort handler), so the reason a run ended early must be one."""
    engine, run = logit_engine([BALANCED], epoch_length=100)
    GANMonitor(log_every=10, accuracy_window=5, patience_iterations=10).attach(engine)
    with caplog.at_level(logging.INFO):
        engine.run(**run)
    stops = [r for r in caplog.records if "GANMonitor stops training at epoch 1, iteration 14" in r.getMessage()]
    assert len(stops) == 1 and stops[0].levelno >= logging.WARNING

from __future__ import annotations

import math

import pytest
import torch

from monai_genmed.losses import GANLoss, discriminator_regularizer, gradient_penalty, r1_penalty

REAL = [2.0, -1.0]
FAKE = [0.5, -3.0]


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# hand values: BCE(l, y) = softplus(l) - y * l
HAND = {
    "minimax": (
        mean(softplus(r) - r for r in REAL) + mean(softplus(f) for f in FAKE),
        -mean(softplus(f) for f in FAKE),
    ),
    "non_saturating": (
        mean(softplus(r) - r for r in REAL) + mean(softplus(f) for f in FAKE),
        mean(softplus(f) - f for f in FAKE),
    ),
    "least_squares": (
        0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f**2 for f in FAKE),
        0.5 * mean((f - 1) ** 2 for f in FAKE),
    ),
    "wasserstein": (mean(FAKE) - mean(REAL), -mean(FAKE)),
    # relu(1 - [2, -1]) = [0, 2]; relu(1 + [0.5, -3]) = [1.5, 0]
    "hinge": (mean([0.0, 2.0]) + mean([1.5, 0.0]), -mean(FAKE)),
}


@pytest.mark.parametrize("mode", sorted(HAND))
def test_losses_match_hand_values(mode):
    loss = GANLoss(mode)
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    d_hand, g_hand = HAND[mode]
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(d_hand, rel=1e-12)
    assert loss.generator_loss(fake).item() == pytest.approx(g_hand, rel=1e-12)
    # the per-term interface gives the same numbers
    assert (loss(real, True) + loss(fake, False)).item() == pytest.approx(d_hand, rel=1e-12)
    assert loss(fake, True, for_discriminator=False).item() == pytest.approx(g_hand, rel=1e-12)


@pytest.mark.parametrize("mode", sorted(HAND))
def test_reductions(mode):
    real, fake = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    per_element = GANLoss(mode, reduction="none")
    assert per_element.discriminator_loss(real, fake).shape == real.shape
    assert per_element.generator_loss(fake).shape == fake.shape
    summed = GANLoss(mode, reduction="sum").generator_loss(fake)
    torch.testing.assert_close(summed, per_element.generator_loss(fake).sum())
    torch.testing.assert_close(
        GANLoss(mode).discriminator_loss(real, fake), per_element.discriminator_loss(real, fake).mean()
    )
    with pytest.raises(ValueError, match="shapes"):
        per_element.discriminator_loss(real, fake[:2])


def test_one_sided_label_smoothing():
    loss = GANLoss("non_saturating", real_label=0.9)
    sigma = 1 / (1 + math.exp(-2.0))
    real_term = -(0.9 * math.log(sigma) + 0.1 * math.log(1 - sigma))
    assert loss(torch.tensor([2.0], dtype=torch.float64), True).item() == pytest.approx(real_term, rel=1e-12)
    # the smoothed real term is minimal where D(x) = 0.9, not at D(x) -> 1
    logit = torch.tensor([math.log(0.9 / 0.1)], dtype=torch.float64, requires_grad=True)
    loss(logit, True).backward()
    assert abs(logit.grad.item()) < 1e-12
    # one-sided: the fake target and the generator's target are untouched
    fake = torch.tensor(FAKE)
    torch.testing.assert_close(loss(fake, False), GANLoss("non_saturating")(fake, False))
    torch.testing.assert_close(loss.generator_loss(fake), GANLoss("non_saturating").generator_loss(fake))


def _generator_gradient(mode: str, logit: float) -> float:
    fake = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
    GANLoss(mode).generator_loss(fake).backward()
    return fake.grad.item()


def test_non_saturating_gradient_is_strong_where_minimax_saturates():
    # D(G(z)) = sigmoid(-8) ~ 3e-4: the discriminator confidently rejects the fakes, early in training
    minimax, non_saturating = _generator_gradient("minimax", -8.0), _generator_gradient("non_saturating", -8.0)
    assert minimax < 0 and non_saturating < 0  # both push the logit up, i.e. make fakes look real
    assert minimax == pytest.approx(-1 / (1 + math.exp(8.0)), rel=1e-9)  # -sigmoid(l)
    assert non_saturating == pytest.approx(-1 / (1 + math.exp(-8.0)), rel=1e-9)  # sigmoid(l) - 1
    assert abs(non_saturating) > 1000 * abs(minimax)
    # where fakes already fool D the roles swap
    assert abs(_generator_gradient("minimax", 8.0)) > 1000 * abs(_generator_gradient("non_saturating", 8.0))


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        GANLoss("vanilla")
    with pytest.raises(ValueError, match="Wasserstein"):
        GANLoss("wasserstein", real_label=0.9)
    with pytest.raises(ValueError, match="hinge"):
        GANLoss("hinge", real_label=0.9)
    with pytest.raises(ValueError, match="real_label"):
        GANLoss(real_label=1.5)
    with pytest.raises(ValueError, match="target_is_real=True"):
        GANLoss()(torch.zeros(2), target_is_real=False, for_discriminator=False)


class LinearCritic(torch.nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere."""

    def __init__(self, shape, norm: float):
        super().__init__()
        w = torch.randn(shape, dtype=torch.float64)
        self.w = torch.nn.Parameter(w / w.norm() * norm)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1)


def test_gradient_penalty_on_linear_critics():
    torch.manual_seed(0)
    real, fake = torch.rand(4, 1, 8, 8, dtype=torch.float64), torch.rand(4, 1, 8, 8, dtype=torch.float64)
    assert gradient_penalty(LinearCritic((1, 8, 8), 1.0), real, fake).item() == pytest.approx(0.0, abs=1e-20)
    steep = LinearCritic((1, 8, 8), 2.0)
    penalty = gradient_penalty(steep, real, fake, weight=10.0)
    assert penalty.item() == pytest.approx(10.0, rel=1e-12)  # 10 * (2 - 1)^2
    penalty.backward()  # create_graph: the penalty trains the critic, d/dw 10 (|w| - 1)^2 = 20 (|w| - 1) w / |w|
    torch.testing.assert_close(steep.w.grad, 10.0 * steep.w.detach())
    assert r1_penalty(steep, real, gamma=10.0).item() == pytest.approx(20.0, rel=1e-12)  # 10 / 2 * 2^2


def test_gradient_penalty_draws_epsilon_from_the_given_generator():
    real, fake = torch.rand(3, 1, 5, 5, dtype=torch.float64), torch.rand(3, 1, 5, 5, dtype=torch.float64)

    def critic(x):  # D(x) = |x|^2 / 2 has gradient x: the penalty reveals where it was evaluated
        return 0.5 * x.flatten(1).square().sum(1)

    global_state = torch.get_rng_state()
    seeded = torch.Generator().manual_seed(3)
    penalty = gradient_penalty(critic, real, fake, weight=1.0, generator=seeded, reduction="none")
    assert torch.equal(torch.get_rng_state(), global_state)
    epsilon = torch.rand(3, 1, 1, 1, generator=torch.Generator().manual_seed(3)).double()
    expected = ((epsilon * real + (1 - epsilon) * fake).flatten(1).norm(dim=1) - 1) ** 2
    torch.testing.assert_close(penalty, expected)
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(critic, real, fake[:2])


# two discriminators (e.g. MONAI's MultiScalePatchDiscriminator): patch logits of different sizes, one channel
REAL_2 = [4.0, 0.0, -0.5, 1.0]
FAKE_2 = [-2.0, 0.0, 1.0, 0.5]


def _as_list(first, second):
    """Logits of two discriminators: (2, 1, 1) and (1, 1, 4)."""
    return [torch.tensor(v, dtype=torch.float64).view(shape) for v, shape in ((first, (2, 1, 1)), (second, (1, 1, 4)))]


def test_hinge_loss_on_patch_logits():
    loss = GANLoss("hinge")
    real = torch.tensor([[0.2, 3.0], [-1.0, 1.0]], dtype=torch.float64)
    fake = torch.tensor([[-0.4, -2.0], [0.5, 1.0]], dtype=torch.float64)
    # real: relu(1 - r) = [0.8, 0, 2, 0]; fake: relu(1 + f) = [0.6, 0, 1.5, 2]
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(2.8 / 4 + 4.1 / 4, rel=1e-12)
    assert loss.generator_loss(fake).item() == pytest.approx(0.225, rel=1e-12)  # -(−0.4 − 2 + 0.5 + 1) / 4
    # correctly classified samples beyond the margin give no discriminator gradient
    scores = torch.tensor([3.0, 0.5], dtype=torch.float64, requires_grad=True)
    loss(scores, target_is_real=True).backward()
    assert scores.grad.tolist() == [0.0, -0.5]


@pytest.mark.parametrize("mode", sorted(HAND))
def test_list_of_logits_averages_per_discriminator_terms(mode):
    """As MONAI's PatchAdversarialLoss: each discriminator's term is reduced on its own, then averaged or summed."""
    loss, summed, none = GANLoss(mode), GANLoss(mode, reduction="sum"), GANLoss(mode, reduction="none")
    real, fake = _as_list(REAL, REAL_2), _as_list(FAKE, FAKE_2)
    d_terms = [loss.discriminator_loss(r, f) for r, f in zip(real, fake)]
    g_terms = [loss.generator_loss(f) for f in fake]
    assert d_terms[0].item() == pytest.approx(HAND[mode][0], rel=1e-12)  # the first discriminator is HAND's case
    torch.testing.assert_close(loss.discriminator_loss(real, fake), (d_terms[0] + d_terms[1]) / 2)
    torch.testing.assert_close(loss.generator_loss(tuple(fake)), (g_terms[0] + g_terms[1]) / 2)
    torch.testing.assert_close(loss(real, True), (loss(real[0], True) + loss(real[1], True)) / 2)
    torch.testing.assert_close(
        summed.discriminator_loss(real, fake), sum(summed.discriminator_loss(r, f) for r, f in zip(real, fake))
    )
    elementwise = none.discriminator_loss(real, fake)
    assert isinstance(elementwise, list) and [e.shape for e in elementwise] == [(2, 1, 1), (1, 1, 4)]
    torch.testing.assert_close(elementwise[1], none.discriminator_loss(real[1], fake[1]))


def test_list_hand_values_non_saturating_generator():
    fake = _as_list(FAKE, FAKE_2)
    second = mean(softplus(f) - f for f in FAKE_2)
    expected = (HAND["non_saturating"][1] + second) / 2
    assert GANLoss("non_saturating").generator_loss(fake).item() == pytest.approx(expected, rel=1e-12)


def test_list_misuse_raises():
    loss = GANLoss("least_squares")
    features_then_logits = [torch.zeros(1, 8, 4, 4), torch.zeros(1, 16, 2, 2), torch.zeros(1, 1, 1, 1)]
    with pytest.raises(ValueError, match=r"disc\(x\)\[-1\]"):
        loss.generator_loss(features_then_logits)
    with pytest.raises(ValueError, match="same length"):
        loss.discriminator_loss(_as_list(REAL, REAL_2), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="same length"):
        loss.discriminator_loss(_as_list(REAL, REAL_2), _as_list(FAKE, FAKE_2)[:1])
    with pytest.raises(TypeError, match="non-empty list"):
        loss.generator_loss([])


@pytest.mark.parametrize(
    "gan_loss_name, r1_gamma, expected",
    [
        ("wasserstein_gp", 0.0, "gradient_penalty"),
        ("wasserstein_gp", 1.0, "gradient_penalty"),  # WGAN-GP's own penalty, never R1 beside it
        ("wasserstein", 1.0, None),  # the clipped critic takes no penalty
        ("non_saturating", 0.0, None),
        ("non_saturating", 2.0, "r1"),
        ("hinge", 2.0, "r1"),
    ],
)
def test_discriminator_regularizer_per_gan_loss(gan_loss_name, r1_gamma, expected):
    critic = LinearCritic((1, 8, 8), 2.0)
    real, fake = torch.rand(4, 1, 8, 8, dtype=torch.float64), torch.rand(4, 1, 8, 8, dtype=torch.float64)
    regularizer = discriminator_regularizer(gan_loss_name, gradient_penalty_weight=3.0, r1_gamma=r1_gamma)
    if expected is None:
        assert regularizer is None
    elif expected == "r1":
        assert regularizer(critic, real, fake).item() == pytest.approx(r1_gamma / 2 * 4.0, rel=1e-12)
    else:  # lambda (|grad| - 1)^2 = 3 (2 - 1)^2, epsilon drawn from torch's default generator as the loss does
        torch.manual_seed(5)
        penalty = regularizer(critic, real, fake)
        torch.manual_seed(5)
        assert torch.equal(penalty, gradient_penalty(critic, real, fake, weight=3.0))
        assert penalty.item() == pytest.approx(3.0, rel=1e-12)

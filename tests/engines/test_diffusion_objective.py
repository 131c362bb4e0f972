"""The DDPM objective and the sampler: the target of each prediction type, exact resume of the draws, a tiny model that
learns, and samples in range."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import DiffusionModelUNet
from monai.networks.schedulers import DDPMScheduler

from monai_genmed.engines import DenoisingDiffusionObjective, GenerativeAdversarialTrainer
from monai_genmed.networks.nets import DiffusionSampler, TracedDenoiser


def tiny_unet() -> DiffusionModelUNet:
    torch.manual_seed(0)
    return DiffusionModelUNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 8),
                              attention_levels=(False, False), num_res_blocks=1, norm_num_groups=4)  # fmt: skip


class Recorder(torch.nn.Module):
    """Returns zeros and remembers what it was given."""

    def forward(self, x, timesteps):
        self.seen = (x.clone(), timesteps.clone())
        return torch.zeros_like(x)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_the_noised_input_and_the_target_follow_the_schedule(prediction_type):
    scheduler = DDPMScheduler(num_train_timesteps=100, prediction_type=prediction_type)
    objective = DenoisingDiffusionObjective(scheduler, seed=3)
    image = torch.rand(4, 1, 8, 8)
    net = Recorder()
    out = objective.generate({"generator": net}, {"image": image})
    noisy, t = net.seen
    x0 = image * 2 - 1
    alpha_bar = scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    noise = (noisy - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()  # what the forward process mixed in
    expected = {"epsilon": noise, "v_prediction": alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * x0, "sample": x0}
    torch.testing.assert_close(out["label"], expected[prediction_type], atol=1e-4, rtol=1e-4)
    loss = objective.generator_loss(None, None, out)
    torch.testing.assert_close(loss["total"], (expected[prediction_type] ** 2).mean(), atol=1e-4, rtol=1e-4)


def test_the_draws_resume_from_the_state_dict():
    objective = DenoisingDiffusionObjective(DDPMScheduler(num_train_timesteps=100), seed=0)
    image = torch.rand(2, 1, 8, 8)
    objective.generate({"generator": Recorder()}, {"image": image})
    state = objective.state_dict()
    first = Recorder()
    objective.generate({"generator": first}, {"image": image})
    resumed = DenoisingDiffusionObjective(DDPMScheduler(num_train_timesteps=100), seed=123)
    resumed.load_state_dict(state)
    again = Recorder()
    resumed.generate({"generator": again}, {"image": image})
    assert torch.equal(first.seen[0], again.seen[0]) and torch.equal(first.seen[1], again.seen[1])


def test_a_trained_tiny_model_predicts_the_noise_better_than_its_untrained_self():
    unet = tiny_unet()
    scheduler = DDPMScheduler(num_train_timesteps=50)
    images = torch.zeros(8, 1, 16, 16)
    images[:, :, 4:12, 4:12] = 1.0  # one square: a distribution a few steps can learn

    def mse(seed: int) -> float:
        objective = DenoisingDiffusionObjective(scheduler, generator="unet", seed=seed)
        with torch.no_grad():
            return float(
                objective.generator_loss(None, None, objective.generate({"unet": unet}, {"image": images}))["mse"]
            )

    before = sum(mse(s) for s in range(100, 104)) / 4
    trainer = GenerativeAdversarialTrainer(
        device=torch.device("cpu"), max_epochs=60, train_data_loader=[{"image": images}], generators={"unet": unet},
        objective=DenoisingDiffusionObjective(scheduler, generator="unet"),
        g_optimizer=torch.optim.Adam(unet.parameters(), lr=3e-3),
    )  # fmt: skip
    trainer.run()
    after = sum(mse(s) for s in range(100, 104)) / 4
    assert after < 0.5 * before, (before, after)


def test_the_sampler_returns_slices_in_range_and_refuses_bad_settings():
    sampler = DiffusionSampler(tiny_unet(), num_train_timesteps=50, sampler="ddim", num_inference_steps=4)
    out = sampler(torch.randn(2, 1, 16, 16))
    assert out.shape == (2, 1, 16, 16) and out.min() >= 0 and out.max() <= 1
    assert all(k.startswith("network.") for k in sampler.state_dict())
    with pytest.raises(ValueError, match="'ddim' or 'ddpm'"):
        DiffusionSampler(tiny_unet(), sampler="euler")
    with pytest.raises(ValueError, match="num_inference_steps must be between 1 and num_train_timesteps"):
        DiffusionSampler(tiny_unet(), num_train_timesteps=50, num_inference_steps=80)
    with pytest.raises(ValueError, match="noise images"):
        sampler(torch.randn(2, 256))


def test_the_traced_denoiser_takes_a_samplers_weights_and_any_timesteps():
    """TracedDenoiser traces a U-Net with attention (which TorchScript cannot script) when it is built; a sampler's
    state dict (network.*) loaded afterwards reaches the trace, whose timesteps and batch size are inputs."""

    def unet():
        return DiffusionModelUNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 8),
                                  attention_levels=(False, True), num_head_channels=8, num_res_blocks=1,
                                  norm_num_groups=4)  # fmt: skip

    with pytest.raises(RuntimeError, match="spatialattention"):  # why the trace: MONAI's attention block
        torch.jit.script(unet())
    sampler = DiffusionSampler(unet(), num_train_timesteps=50)
    for p in sampler.parameters():  # the U-Net's output layer starts at zero: give every weight a value
        torch.nn.init.normal_(p, std=0.2)
    denoiser = TracedDenoiser(unet(), [1, 1, 16, 16])
    denoiser.load_state_dict(sampler.state_dict())
    scripted = torch.jit.script(denoiser)  # what ckpt_export does with it
    x, t = torch.randn(3, 1, 16, 16), torch.tensor([0, 20, 49])
    with torch.no_grad():
        eager = sampler.network.eval()(x, t)
        torch.testing.assert_close(scripted(x, t), eager, rtol=1e-5, atol=1e-5)
        assert eager.abs().max() > 0.1 and not torch.allclose(eager, sampler.network(x, torch.tensor([5, 5, 5])))
    with pytest.raises(ValueError, match="example_shape must be"):
        TracedDenoiser(unet(), [16, 16])

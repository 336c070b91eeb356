"""Cross-paper composition: CRL's slot encoder (`crl-slots`, from a checkpoint) as the image encoder of the
R2I world model on a pixel task, frozen or fine-tuned."""

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("intarsia_r2i")
pytest.importorskip("intarsia_crl")


class BallPixels(gym.Env):
    """A 16x16 RGB ball that moves left/right; reward 1 for reaching the right edge; 6 steps."""

    observation_space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = int(self.np_random.integers(2, 12)), 0
        return self._obs(), {}

    def _obs(self):
        img = np.zeros((16, 16, 3), np.uint8)
        img[6:10, self.x:self.x + 3] = (255, 200, 40)
        return img

    def step(self, action):
        self.x = int(np.clip(self.x + (1 if int(action) else -1), 0, 13))
        self.t += 1
        return self._obs(), float(self.x == 13), self.x == 13, self.t >= 6, {}


def _checkpoint(path):
    from intarsia_crl.config import ModelConfig
    from intarsia_crl.encoders import save_encoder
    from intarsia_crl.networks import SlotEncoder

    torch.manual_seed(0)
    model = ModelConfig(slot_dim=8, hidden_dim=8, cnn_layers=2, iterations=1, mesh_iters=1, sinkhorn_iters=1,
                        decoder=False)
    enc = SlotEncoder(model, image_size=16, num_objects=1)
    save_encoder(path, enc, kind="slots", model=model, image_size=16, num_objects=1, properties=["x", "y"])
    return enc


@pytest.mark.slow  # about 27 s per case on the shared CPU
@pytest.mark.parametrize("frozen", [True, False])
def test_crl_slots_runs_inside_r2i_on_pixels(intarsia_host, cpu_fabric, tmp_path, frozen):
    import intarsia_crl.plugin as crl
    import intarsia_r2i.plugin as r2i
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec
    from intarsia_r2i.loop import drive
    from intarsia_r2i.presets import tiny_config
    from intarsia_r2i.world_model import RegisteredEncoder

    intarsia_host(r2i, crl)
    trained = _checkpoint(tmp_path / "encoder.pt")
    env = BallPixels()
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    cfg = tiny_config(encoder={"name": "crl-slots", "checkpoint": str(tmp_path / "encoder.pt"), "frozen": frozen})
    options = {k: v for k, v in vars(cfg).items() if k != "model"}
    agent = build("policies", "r2i", options, env_spec=spec, fabric=cpu_fabric)
    enc = agent.wm.encoder
    assert isinstance(enc, RegisteredEncoder) and enc.out_dim == 2 * 8  # 2 slots (1 object + background) x 8
    for a, b in zip(trained.state_dict().values(), enc.net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)  # the checkpoint's weights
    before = [p.detach().clone() for p in enc.net.parameters()]
    wm_before = [p.detach().clone() for p in agent.wm.img_in.parameters()]
    drive(BallPixels, agent, 40, num_envs=2)
    assert agent.updates >= 3
    metrics = agent.train_step()
    assert np.isfinite(metrics["wm/image"]) and np.isfinite(metrics["loss/actor"])
    changed = [not torch.equal(a, p) for a, p in zip(before, enc.net.parameters(), strict=True)]
    assert (not any(changed)) if frozen else any(changed)
    assert all(p.requires_grad != frozen for p in enc.net.parameters())  # imagination leaves it as it was
    assert any(not torch.equal(a, p) for a, p in zip(wm_before, agent.wm.img_in.parameters(), strict=True))
    if frozen:
        assert not enc.net.training  # eval mode: deterministic slots


@pytest.mark.slow
def test_a_crl_run_trained_through_the_job_is_the_encoder_of_r2i(intarsia_host, cpu_fabric, tmp_path):
    """End to end: a tiny crl-slots run of the crl job (both stages, 16 px like the task's frames), then its
    encoder.pt as ``world_model.encoder: {name: crl-slots, checkpoint: ...}`` inside R2I, frozen."""
    import intarsia_crl.plugin as crl
    import intarsia_r2i.plugin as r2i
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec
    from intarsia.runner.api import run_config
    from intarsia_crl.encoders import load_checkpoint
    from intarsia_r2i.loop import drive
    from intarsia_r2i.presets import tiny_config
    from intarsia_r2i.world_model import RegisteredEncoder

    intarsia_host(r2i, crl)
    report = run_config({
        "job": "crl", "name": "tiny-slots", "seed": 0,
        "sprites": {"num_objects": 1, "properties": ["x", "y"], "image_size": 16, "num_pairs": 64, "val_pairs": 16,
                    "radius_range": [0.1, 0.14]},
        "model": {"encoder": "slots", "slot_attention": "softmax", "hidden_dim": 8, "slot_dim": 8, "cnn_layers": 2,
                  "cnn_stride": 2, "kernel_size": 3, "iterations": 1, "decoder": True, "decoder_channels": 8,
                  "decoder_init_size": 4, "recon_downsample": 2},
        "pretrain": {"epochs": 1, "batch_size": 32}, "train": {"epochs": 1, "batch_size": 32},
        "loss": {"matching": "argmin", "pair_recon": True}, "fabric": {"accelerator": "cpu"}, "cpu_threads": 1,
        "plots": False}, run_dir=tmp_path / "crl")
    assert set(report["training"]["stages"]) == {"autoencoder", "finetune"}
    path = tmp_path / "crl" / "encoder.pt"
    env = BallPixels()
    spec = EnvSpec(env.observation_space, env.action_space, 2)
    cfg = tiny_config(encoder={"name": "crl-slots", "checkpoint": str(path), "frozen": True})
    options = {k: v for k, v in vars(cfg).items() if k != "model"}
    agent = build("policies", "r2i", options, env_spec=spec, fabric=cpu_fabric)
    enc = agent.wm.encoder
    assert isinstance(enc, RegisteredEncoder) and enc.out_dim == 2 * 8
    saved = load_checkpoint(str(path))["encoder"]
    for key, value in enc.net.state_dict().items():
        torch.testing.assert_close(value, saved[key])  # the job's trained weights
    drive(BallPixels, agent, 40, num_envs=2)
    metrics = agent.train_step()
    assert np.isfinite(metrics["wm/image"]) and np.isfinite(metrics["loss/actor"])
    for key, value in enc.net.state_dict().items():
        torch.testing.assert_close(value, saved[key])  # frozen

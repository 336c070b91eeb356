"""Registrations of the core's reference components (cheap: nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia.hookspecs import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_envs(register):
    register("CaptionedGrid-v0", factory="intarsia.builtin.gridworld:CaptionedGridEnv",
             config="intarsia.builtin.gridworld:CaptionedGridConfig",
             summary="Key-door-goal gridworld with event captions and a sparse extrinsic reward")


@hookimpl
def register_policies(register):
    register("random", factory="intarsia.builtin.random_policy:RandomPolicy",
             config="intarsia.builtin.random_policy:RandomPolicyConfig",
             summary="Uniformly random actions (a baseline and a data collector)")
    register("qlearning", factory="intarsia.builtin.qlearning:QLearningAgent",
             config="intarsia.builtin.qlearning:QLearningConfig",
             summary="Small-network Q-learning with replay and a target network (reference agent)")


@hookimpl
def register_rewards(register):
    register("zero", factory="intarsia.builtin.rewards:ZeroReward", summary="Always 0")
    register("constant", factory="intarsia.builtin.rewards:ConstantReward",
             config="intarsia.builtin.rewards:ConstantRewardConfig", summary="A constant per step")
    register("caption", factory="intarsia.builtin.rewards:CaptionReward",
             config="intarsia.builtin.rewards:CaptionRewardConfig",
             summary="A bonus for steps whose caption contains a configured phrase (once per episode)")


@hookimpl
def register_jobs(register):
    register("train", factory="intarsia.runner.train:train",
             config="intarsia.runner.train_config:TrainConfig",
             summary="Train a policy in vectorised envs on Lightning Fabric with composed rewards")


@hookimpl
def register_loggers(register):
    register("csv", factory="intarsia.runner.loggers:csv_logger",
             summary="logs/metrics.csv (what intarsia.load(...).metrics reads), kept across a resume")
    register("tensorboard", factory="intarsia.runner.loggers:tensorboard_logger",
             summary="TensorBoard events in tensorboard/ (skipped when tensorboard is not installed)")
    register("wandb", factory="intarsia.runner.trackers:wandb_logger",
             summary="Weights & Biases (offline in wandb/ without a key); extra: intarsia-core[wandb]")
    register("mlflow", factory="intarsia.runner.trackers:mlflow_logger",
             summary="MLflow (a file store in mlruns/ unless MLFLOW_TRACKING_URI is set); extra: intarsia-core[mlflow]")


@hookimpl
def register_recipes(register):
    register("builtin/qlearning-grid", file=RECIPES / "qlearning_grid.yaml",
             summary="Q-learning on the captioned gridworld (CPU, ~1 minute)")
    register("builtin/random-grid", file=RECIPES / "random_grid.yaml",
             summary="Random policy on the captioned gridworld (a chance baseline)")
    register("builtin/tiny", file=RECIPES / "tiny.yaml",
             summary="Tiny preset for tests: Q-learning on a 5x5 grid, 2000 steps, no checkpoints (`extends:` it)")

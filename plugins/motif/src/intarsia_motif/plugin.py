"""Registrations of the Motif plugin (hooks only; nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_rewards(register):
    register("motif", factory="intarsia_motif.intrinsic:MotifReward", config="intarsia_motif.config:MotifRewardConfig",
             summary="Motif intrinsic reward: LLM-preference reward model, thresholded and count-discounted (ICLR 2024)")


@hookimpl
def register_policies(register):
    register("ppo", factory="intarsia_motif.ppo:PPOAgent", config="intarsia_motif.config:PPOConfig",
             summary="Recurrent (GRU) PPO, the synchronous stand-in for Motif's APPO agent")


@hookimpl
def register_envs(register):
    register("MotifNetHack-v0", factory="intarsia_motif.envs.nethack:NetHackCaptioned",
             config="intarsia_motif.config:NetHackConfig",
             summary="A NetHack task (nle) with the in-game message as caption; needs intarsia-motif[nethack]")


@hookimpl
def register_jobs(register):
    register("motif-pipeline", factory="intarsia_motif.job:run_pipeline",
             config="intarsia_motif.config:PipelineConfig",
             summary="Motif end to end: collect captions, annotate pairs, train the reward model, train an agent, report")


@hookimpl
def register_recipes(register):
    register("motif/demo", file=RECIPES / "demo.yaml",
             summary="Motif pipeline on CaptionedGrid-v0 with the embedded Gemma 3 270M judge and the R2I agent")
    register("motif/demo-ppo", file=RECIPES / "demo_ppo.yaml",
             summary="Motif pipeline on CaptionedGrid-v0 with the oracle annotator and the recurrent PPO agent")
    register("motif/grid-ppo", file=RECIPES / "grid_ppo.yaml",
             summary="Recurrent PPO + a trained Motif reward on CaptionedGrid-v0 (set rewards.0.reward_model=PATH)")
    register("motif/tiny-ppo", file=RECIPES / "ppo_tiny.yaml",
             summary="Tiny preset of the PPO agent for tests and smoke runs (seconds; `extends: motif/tiny-ppo`)")
    register("motif/grid-r2i", file=RECIPES / "grid_r2i.yaml",
             summary="R2I + a trained Motif reward on CaptionedGrid-v0 (set rewards.0.reward_model=PATH)")
    register("motif/nethack-score", file=RECIPES / "nethack_score.yaml",
             summary="Recurrent PPO + Motif reward on NetHackScore (extrinsic 0.1, as the paper); needs nle")
    register("motif/nethack-staircase", file=RECIPES / "nethack_staircase.yaml",
             summary="Recurrent PPO + Motif reward on NetHackStaircase (extrinsic 10, as the paper); needs nle")

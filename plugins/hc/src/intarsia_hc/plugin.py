"""Hooks of intarsia-hc (cheap: nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"
CFG = "intarsia_hc.config"


@hookimpl
def register_policies(register):
    register("sac-hc", factory="intarsia_hc.sac:SACAgent", config=f"{CFG}:SACConfig",
             summary="SAC with a HyperCombinator actor: K linear sub-policies (Wabartha & Pineau, ICLR 2024)")
    register("sac-mlp", factory="intarsia_hc.sac:SACAgent", config=f"{CFG}:SACMLPConfig",
             summary="SAC with an MLP actor (pytorch_sac), the HyperCombinator baseline")
    register("ris-hc", factory="intarsia_hc.ris:RISAgent", config=f"{CFG}:RISConfig",
             summary="Goal-conditioned SAC with RIS's imagined-subgoal prior (Chane-Sane et al. 2021), HC actor")


@hookimpl
def register_envs(register):
    register("Pendulum-v1", factory="intarsia_hc.envs.pendulum:make_pendulum", config=f"{CFG}:PendulumConfig",
             summary="gymnasium Pendulum-v1 with named observation features")
    register("DMCState-v0", factory="intarsia_hc.envs.dmc:DMCStateEnv", config=f"{CFG}:DMCConfig",
             summary="DeepMind Control suite task from proprioceptive state [dmc]")
    register("PointNav-v0", factory="intarsia_hc.envs.point_nav:PointNavEnv", config=f"{CFG}:PointNavConfig",
             summary="2-D point navigation to a goal (dict observations; walls optional)")


@hookimpl
def register_jobs(register):
    register("hc-train", factory="intarsia_hc.job:train_and_explain", config="intarsia.runner.train_config:TrainConfig",
             summary="The core train job, then the HyperCombinator interpretability report of the final policy")


@hookimpl
def register_recipes(register):
    for name, summary in RECIPE_SUMMARIES.items():
        register(name, file=RECIPES / f"{name.replace('/', '_')}.yaml", summary=summary)


@hookimpl
def register_commands(cli):
    from .cli import add_commands  # click only; the command bodies import the heavy parts

    add_commands(cli)


RECIPE_SUMMARIES = {
    "hc/pendulum": "SAC with a K=4 HyperCombinator actor on Pendulum (CPU, minutes)",
    "hc/pendulum-mlp": "SAC with an MLP actor on Pendulum, the baseline of hc/pendulum (CPU, minutes)",
    "hc/tiny": "Tiny preset for tests and smoke runs (seconds; `extends: hc/tiny`), not for learning",
    "hc/pendulum-k1": "hc/pendulum with K=1: one linear policy (CPU, minutes)",
    "hc/pendulum-k8": "hc/pendulum with K=8, the paper's HC8 (CPU, minutes)",
    "hc/pendulum-k64": "hc/pendulum with K=64, the paper's HC64 (CPU, minutes)",
    "hc/cartpole-swingup-cpu": "SAC-HC (K=8) on DMC cartpole-swingup, CPU-sized: 2x256, 100k env steps [dmc]",
    "hc/cartpole-swingup": "SAC-HC (K=8, the paper's HC8) on DMC cartpole-swingup at the paper's sizes (GPU) [dmc]",
    "hc/cartpole-swingup-hc64": "SAC-HC (K=64, the paper's HC64) on DMC cartpole-swingup at the paper's sizes (GPU) [dmc]",
    "hc/reacher-easy-cpu": "SAC-HC (K=8) on DMC reacher-easy, CPU-sized: 2x256, 100k env steps (action repeat 4) [dmc]",
    "hc/cheetah-run-cpu": "SAC-HC (K=8) on DMC cheetah-run, CPU-sized: 2x256, 200k env steps (action repeat 4) [dmc]",
    "hc/reacher-easy": "SAC-HC (K=8, the paper's HC8) on DMC reacher-easy at the paper's sizes (GPU) [dmc]",
    "hc/reacher-easy-hc64": "SAC-HC (K=64, the paper's HC64) on DMC reacher-easy at the paper's sizes (GPU) [dmc]",
    "hc/cheetah-run": "SAC-HC (K=8, the paper's HC8) on DMC cheetah-run at the paper's sizes (GPU) [dmc]",
    "hc/cheetah-run-hc64": "SAC-HC (K=64, the paper's HC64) on DMC cheetah-run at the paper's sizes (GPU) [dmc]",
    "hc/walker-walk": "SAC-HC (K=8, the paper's HC8) on DMC walker-walk at the paper's sizes (GPU) [dmc]",
    "hc/walker-walk-hc64": "SAC-HC (K=64, the paper's HC64) on DMC walker-walk at the paper's sizes (GPU) [dmc]",
    "hc/point-nav": "Goal-conditioned RIS with an HC actor on 2-D point navigation with a wall (paper-size RIS)",
    "hc/point-nav-cpu": "hc/point-nav at CPU size (30k steps, batch 256), 100 fixed evaluation goals (CPU, minutes)",
}

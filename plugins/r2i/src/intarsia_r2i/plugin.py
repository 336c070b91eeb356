"""Registrations of the R2I plugin (hooks only; nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"
CFG = "intarsia_r2i.config"


@hookimpl
def register_envs(register):
    register("MemoryLength-v0", factory="intarsia_r2i.envs.bsuite:make_memory_length", config=f"{CFG}:MemoryLengthConfig",
             summary="BSuite memory_length: remember a cue bit for L steps (+-1 at the query)")
    register("DiscountingChain-v0", factory="intarsia_r2i.envs.bsuite:make_discounting_chain",
             config=f"{CFG}:DiscountingChainConfig", summary="BSuite discounting_chain: credit over 1..100 steps")
    register("POPGym-v0", factory="intarsia_r2i.envs.popgym:make_popgym", config=f"{CFG}:PopGymConfig",
             summary="POPGym task (RepeatPrevious, Autoencode, Concentration, ...) with one-hot observations [popgym]")
    register("AtariPixels-v0", factory="intarsia_r2i.envs.pixels:make_atari", config=f"{CFG}:AtariConfig",
             summary="ALE game at 64x64 RGB, action repeat 4 (DreamerV3/R2I setting) [atari]")
    register("DMCPixels-v0", factory="intarsia_r2i.envs.pixels:make_dmc", config=f"{CFG}:DMCConfig",
             summary="DeepMind Control task at 64x64 pixels, action repeat 2 [dmc]")
    register("MemoryMaze-v0", factory="intarsia_r2i.envs.pixels:make_memory_maze", config=f"{CFG}:MemoryMazeConfig",
             summary="Memory Maze 3D navigation at 64x64 RGB (GPU machine) [memory-maze]")


@hookimpl
def register_world_models(register):
    register("s3m", factory="intarsia_r2i.world_model:make_s3m", config=f"{CFG}:WorldModelConfig",
             summary="R2I structured state-space world model (S5 stack, non-recurrent posterior)")
    register("rssm", factory="intarsia_r2i.world_model:make_rssm", config=f"{CFG}:WorldModelConfig",
             summary="DreamerV3 GRU recurrent state-space model")


@hookimpl
def register_policies(register):
    register("r2i", factory="intarsia_r2i.agent:make_r2i", config=f"{CFG}:AgentConfig",
             summary="Recall to Imagine (Samsami et al., ICLR 2024): DreamerV3 agent on an S5 world model")
    register("dreamerv3", factory="intarsia_r2i.agent:make_dreamerv3", config=f"{CFG}:AgentConfig",
             summary="DreamerV3 (Hafner et al., 2023) with a GRU-RSSM world model, the R2I baseline")


@hookimpl
def register_recipes(register):
    for name, summary in RECIPE_SUMMARIES.items():
        register(name, file=RECIPES / f"{name.replace('/', '_')}.yaml", summary=summary,
                 renamed_from=RENAMED.get(name, ()))


RENAMED = {"r2i/dreamerv3-memory-length": ["dreamerv3/memory-length"]}  # old names still resolve, with a notice
RECIPE_SUMMARIES = {
    "r2i/memory-length": "R2I on BSuite memory_length (L=25), CPU-sized (see the README for measured results)",
    "r2i/dreamerv3-memory-length": "DreamerV3 (GRU-RSSM) on BSuite memory_length (L=25), the CPU baseline",
    "r2i/popgym-repeat-previous": "R2I on POPGym RepeatPreviousEasy (paper's POPGym sizes shrunk for a CPU)",
    "r2i/memory-maze-9x9": "R2I on Memory Maze 9x9 at the paper's sizes (GPU machine)",
    "r2i/popgym-paper": "R2I on POPGym at the paper's sizes (GPU)",
    "r2i/bsuite-paper": "R2I on BSuite memory_length at the paper's sizes (GPU)",
    "r2i/atari100k": "R2I on Atari 100k (Pong) at the paper's sizes (GPU)",
    "r2i/dmc-vision": "R2I on DMC walker-walk from pixels at the paper's sizes (GPU)",
    "r2i/tiny": "Tiny preset for tests and smoke runs (seconds; `extends: r2i/tiny`), not for learning",
}

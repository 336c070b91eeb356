"""Hooks of intarsia-lmcdqn (cheap: nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"
ATARI_GAMES = ("Alien", "Freeway", "Gravitar", "Hero", "Pitfall", "Qbert", "Solaris", "Venture")  # the paper's


@hookimpl
def register_policies(register):
    register("lmcdqn", factory="intarsia_lmcdqn.agent:LMCDQNAgent", config="intarsia_lmcdqn.config:LMCDQNConfig",
             summary="Adam LMCDQN: Langevin posterior sampling of the Q-network (Ishfaq et al., ICLR 2024)")
    register("dqn", factory="intarsia_lmcdqn.agent:DQNAgent", config="intarsia_lmcdqn.config:DQNConfig",
             summary="DQN with epsilon-greedy exploration (the LMCDQN baseline)")


@hookimpl
def register_envs(register):
    register("NChain-v0", factory="intarsia_lmcdqn.envs.nchain:NChainEnv", config="intarsia_lmcdqn.config:NChainConfig",
             summary="N-chain with thermometer states, start s2, episodes of N+8 steps (max return 10)")
    register("DeepSea-v0", factory="intarsia_lmcdqn.envs.deep_sea:DeepSeaEnv",
             config="intarsia_lmcdqn.config:DeepSeaConfig", summary="bsuite Deep Sea as a gymnasium env")
    register("Atari-v0", factory="intarsia_lmcdqn.envs.atari:make_atari", config="intarsia_lmcdqn.config:AtariConfig",
             summary="Atari via ale-py with DQN preprocessing and 4-frame stacks (extra: atari)")


@hookimpl
def register_recipes(register):
    register("lmcdqn/nchain", file=RECIPES / "lmcdqn_nchain.yaml",
             summary="Adam LMCDQN on N-chain (N=25; env.n=... to change), 1e5 steps, CPU")
    register("lmcdqn/dqn-nchain", file=RECIPES / "dqn_nchain.yaml", renamed_from=["dqn/nchain"],
             summary="epsilon-greedy DQN on N-chain (the baseline)")
    register("lmcdqn/deep-sea", file=RECIPES / "lmcdqn_deep_sea.yaml", summary="Adam LMCDQN on Deep Sea (size 10)")
    register("lmcdqn/tiny", file=RECIPES / "lmcdqn_tiny.yaml",
             summary="Tiny preset for tests and smoke runs (seconds; `extends: lmcdqn/tiny`), not for learning")
    for game in ATARI_GAMES:
        register(f"lmcdqn/atari-{game.lower()}", file=RECIPES / f"lmcdqn_atari_{game.lower()}.yaml",
                 summary=f"Adam LMCDQN on Atari {game}, 50M frames (GPU; extra: atari)")

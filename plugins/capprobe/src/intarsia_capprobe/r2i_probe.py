"""Where does an R2I agent keep its memory? Linear probes of the memory task's cue from the world model's
states, per layer, against the steps since the cue (beyond the paper: the probe analysis on another
plugin's model; needs ``intarsia-r2i``).

The task is BSuite memory_length (``MemoryLength-v0``): a context bit is shown at t = 0 only and must be
reported at t = L. The agent acts greedily, then its latent features of those episodes are read through the
public :class:`intarsia.interfaces.Probeable` interface (``agent.latent_features(obs_seq, actions_seq)``):
for the R2I agent, every S5 layer's complex SSM state (``ssm.<i>``, real and imaginary parts), ``deter``
(the output state), ``posterior`` (the current observation's latent logits) and ``features`` (what the
actor reads). One probe per
(layer, t) predicts the bit from the state at step t, fitted on a share of the episodes and scored on the
rest. A layer that holds the cue keeps its probe near 1.0 up to the query step; chance is 0.5. The cue is
observed at t = 0, where only ``posterior`` can know it: the SSM reads the previous step's posterior
sample, so the cue enters the SSM states at t = 1 (a probe above chance at t = 0 would be a leak).

``R2IMemoryProbe.run(agent, env_factory)`` takes an agent with ``act`` and ``latent_features`` (a policy that is
:class:`intarsia.interfaces.Probeable`, such as ``r2i`` or ``dreamerv3``) and a zero-argument env factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from intarsia.runner.run_config import check_values

from .config import ProbeConfig


@dataclass
class R2IProbeConfig:
    """Episodes recorded and the probe's settings."""

    episodes: int = 64
    """memory-task episodes recorded (half fit the probes, the rest score them, by ``train_fraction``)"""
    seed: int = 0
    """env seeds are ``seed + episode``; also the probe's split seed"""
    train_fraction: float = 0.5
    """share of the episodes the probes are fitted on"""
    C: float = 1.0
    """inverse L2 strength of the logistic regressions"""

    def __post_init__(self) -> None:
        check_values(self, positive=("episodes", "C"), probabilities=("train_fraction",))


def record_states(agent, env_factory, episodes: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run ``episodes`` greedy episodes in lockstep, then read the agent's per-step latent features through
    :class:`intarsia.interfaces.Probeable`; returns name -> (episodes, T, width) up to the query step and
    the cue bit per episode."""
    envs = [env_factory() for _ in range(episodes)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    cues = np.array([int(o[2] > 0) for o in obs])
    length = int(envs[0].unwrapped.memory_length)
    obs_seq, actions_seq = [], []
    state, reset = None, np.ones(episodes, dtype=bool)
    for _t in range(length + 1):  # t = 0 .. L: the query is shown at t = L
        actions, state = agent.act(np.stack(obs), state, explore=False, reset=reset)
        obs_seq.append(np.stack(obs))
        actions_seq.append(np.asarray(actions))
        reset = np.zeros(episodes, dtype=bool)
        if _t < length:
            obs = [env.step(int(np.asarray(a).reshape(-1)[0]))[0] for env, a in zip(envs, actions)]
    feats = agent.latent_features(np.stack(obs_seq), np.stack(actions_seq))  # name -> (T, B, D)
    return {k: v.detach().float().cpu().numpy().transpose(1, 0, 2) for k, v in feats.items()}, cues


def memory_probe_figure(curves: dict[str, list[float]], chance: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.3))
    ax = fig.subplots()
    for name, accs in curves.items():
        ax.plot(range(len(accs)), accs, marker=".", label=name)
    ax.axhline(chance, color="grey", ls="--", label="majority class")
    ax.set_xlabel("steps since the cue")
    ax.set_ylabel("cue probe accuracy (held out)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("where the world model keeps the cue")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


class R2IMemoryProbe:
    """The ``r2i-memory-probe`` analysis. Metrics: ``memory_probe/<layer>@query`` (accuracy at the query
    step), ``memory_probe/<layer>/mean`` (over steps 1..L) and ``memory_probe/chance``."""

    def __init__(self, config: R2IProbeConfig | None = None):
        self.config = config or R2IProbeConfig()

    def run(self, model, data) -> dict:
        """``model``: the R2I agent; ``data``: a zero-argument factory of memory-task envs."""
        from .probing import fit_probe

        cfg = self.config
        if not callable(data):
            raise ValueError("r2i-memory-probe: data must be a zero-argument env factory")
        from intarsia.interfaces import Probeable

        if not isinstance(model, Probeable):
            raise ValueError(f"r2i-memory-probe: {type(model).__name__} has no latent_features (intarsia.interfaces."
                             "Probeable), so its latent states cannot be probed")
        states, cues = record_states(model, data, cfg.episodes, cfg.seed)
        probe_cfg = ProbeConfig(train_fraction=cfg.train_fraction, C=cfg.C, seed=cfg.seed)
        curves: dict[str, list[float]] = {}
        chance = 0.0
        for name, x in states.items():
            accs = []
            for t in range(x.shape[1]):
                r = fit_probe(x[:, t], cues, probe_cfg)
                accs.append(r["accuracy"])
                chance = max(chance, r["chance"])
            curves[name] = accs
        metrics = {}
        for name, accs in curves.items():
            metrics[f"memory_probe/{name}@query"] = accs[-1]
            metrics[f"memory_probe/{name}/mean"] = float(np.mean(accs[1:])) if len(accs) > 1 else accs[0]
        metrics["memory_probe/chance"] = chance
        return {"metrics": metrics, "figures": {"memory_probe": memory_probe_figure(curves, chance)}, "curves": curves}


def load_r2i_checkpoint(run_dir: str | Path):
    """(agent, env factory) from an ``intarsia run`` directory of an R2I agent on MemoryLength-v0 (its
    config.yaml and newest checkpoint, loaded with ``weights_only=True``)."""
    try:
        import intarsia_r2i  # noqa: F401
    except ImportError:
        raise ImportError("the R2I probe needs intarsia-r2i: pip install 'intarsia-capprobe[r2i]'") from None
    from intarsia.build import build
    from intarsia.errors import IntarsiaError
    from intarsia.runner import checkpoint as ckpt
    from intarsia.runner.api import prepare
    from intarsia.testing import make_env_spec
    from lightning.fabric import Fabric

    run_dir = Path(run_dir)
    if run_dir.is_file():
        run_dir = run_dir.parent.parent if run_dir.parent.name == "checkpoints" else run_dir.parent
    cfg_file = run_dir / "config.yaml"
    if not cfg_file.is_file():
        raise IntarsiaError(f"{str(run_dir)!r} is not a run directory (no config.yaml)")
    _, job, cfg = prepare(str(cfg_file))
    if job != "train" or cfg.policy.name not in ("r2i", "dreamerv3"):
        raise IntarsiaError(f"{str(run_dir)!r} is not an R2I/DreamerV3 training run")
    if cfg.env.name != "MemoryLength-v0":
        raise IntarsiaError(f"the memory probe reads MemoryLength-v0's cue; this run trained on {cfg.env.name!r}")
    steps, _ = ckpt.candidates(run_dir / "checkpoints")
    if not steps:
        raise IntarsiaError(f"{str(run_dir)!r} has no checkpoint (was checkpoint.every 0?)")
    state = ckpt.load(run_dir / "checkpoints", steps[0], 0, 1)

    def env_factory():
        return build("envs", cfg.env)

    fabric = Fabric(accelerator="cpu", devices=1)
    agent = build("policies", cfg.policy, env_spec=make_env_spec(env_factory(), 1), fabric=fabric)
    agent.load_state_dict(state["policy"])
    return agent, env_factory

"""The interpretability report of a HyperCombinator policy: what each linear sub-policy does and when it acts.

From greedy evaluation episodes (the seeds the core's evaluation uses) it measures

* ``usage``: share of steps on which each sub-policy is active; ``usage_entropy`` (nats) of that histogram;
* ``subpolicies_used``: sub-policies active on at least ``min_share`` (1%) of the steps;
* ``switch_rate``: share of consecutive step pairs (within an episode) whose active sub-policy differs, and
  ``mean_segment_length``: steps per run of one sub-policy;

and writes ``interpretability/`` in the run folder: ``report.md`` (the coefficient tables and the numbers),
``summary.json``, ``coefficients.png`` (heat map of W and b of the means), ``usage.png``, ``episode.png``
(the active sub-policy along the lowest-return
episode, with the observation) and ``slice.png`` (the active
sub-policy over a 2-D slice of the observation space, the visited states on top; the other inputs at their
mean over the visited states, or at the values ``slice_at`` gives: for a goal-conditioned policy, the map over
(x, y) for one fixed goal).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from intarsia.errors import IntarsiaError
from intarsia.evaluate import eval_seed

MIN_SHARE = 0.01


def usage_stats(choices: list[np.ndarray], k: int, min_share: float = MIN_SHARE) -> dict:
    """Usage histogram, entropy, sub-policies used, switch rate and mean segment length of per-episode
    sequences of active sub-policy indices."""
    steps = int(sum(len(c) for c in choices))
    if steps == 0:
        raise IntarsiaError("no evaluation steps to explain")
    counts = np.bincount(np.concatenate(choices), minlength=k).astype(np.float64)
    share = counts / steps
    nz = share[share > 0]
    switches = sum(int(np.sum(c[1:] != c[:-1])) for c in choices)
    pairs = sum(max(0, len(c) - 1) for c in choices)
    segments = sum(1 + int(np.sum(c[1:] != c[:-1])) for c in choices if len(c))
    return {"usage": share.tolist(), "usage_entropy": float(-(nz * np.log(nz)).sum()) + 0.0,  # + 0.0: no "-0.0" for K = 1
            "subpolicies_used": int(np.sum(share >= min_share)), "switch_rate": switches / max(1, pairs),
            "mean_segment_length": steps / max(1, segments), "steps": steps}


def _input_names(env, policy, dim: int) -> list[str]:
    names = getattr(policy, "input_names", None)
    if callable(names):
        got = names(env)
        if got is not None and len(got) == dim:
            return list(got)
    names = getattr(env, "observation_names", None)
    if names is not None and len(names) == dim:
        return list(names)
    return [f"x{i}" for i in range(dim)]


HC_POLICIES = ("sac-hc", "sac-mlp", "ris-hc")
"""the policies whose actors this report reads (registered by this plugin)"""


def _load_policy(run_dir: Path):
    """Rebuild the env and the policy of a run folder on the CPU and load its latest checkpoint."""
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec
    from intarsia.runner import checkpoint as ckpt
    from intarsia.runner.api import prepare
    from lightning.fabric import Fabric

    cfg_file = run_dir / "config.yaml"
    if not cfg_file.exists():
        raise IntarsiaError(f"{run_dir} is not a run folder (no config.yaml)")
    _, _, cfg = prepare(str(cfg_file))
    policy_name = getattr(getattr(cfg, "policy", None), "name", None)
    if policy_name not in HC_POLICIES:
        raise IntarsiaError(f"hc explain: {run_dir} is a run of policy {policy_name!r}, not of an hc agent"
                            f" ({', '.join(HC_POLICIES)}); it explains only those")
    marker = ckpt.latest(run_dir / "checkpoints")
    if marker is None:
        raise IntarsiaError(f"{run_dir} has no checkpoint yet (checkpoints/latest.json is missing)")
    env = build("envs", cfg.env)
    max_steps = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    spec = EnvSpec(env.observation_space, env.action_space, 1, ("extrinsic",), max_steps)
    fabric = Fabric(accelerator="cpu", devices=1, strategy="auto", precision="32-true")
    policy = build("policies", cfg.policy, env_spec=spec, fabric=fabric)
    state = ckpt.load(run_dir / "checkpoints", int(marker["step"]), 0, 1)
    policy.load_state_dict(state["policy"])
    return cfg, env, policy


def rollout(policy, env, episodes: int, seed: int):
    """Greedy episodes: per episode the returns, inputs (actor inputs) and active sub-policies."""
    import torch

    returns, inputs, choices = [], [], []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        done, ret, xs, ks = False, 0.0, [], []
        reset = np.ones(1, dtype=bool)
        while not done:
            batch = {k: np.asarray(v)[None] for k, v in obs.items()} if isinstance(obs, dict) else np.asarray(obs)[None]
            with torch.no_grad():
                x = policy.actor_input(batch)
                out = policy.actor(x, explore=False)
            action, _ = policy.act(batch, None, explore=False, reset=reset)
            reset = np.zeros(1, dtype=bool)
            xs.append(x[0].float().cpu().numpy())
            if out.get("choice") is not None:
                ks.append(int(out["choice"][0]))
            obs, r, term, trunc, _ = env.step(action[0])
            ret += float(r)
            done = bool(term or trunc)
        returns.append(ret)
        inputs.append(np.stack(xs))
        choices.append(np.asarray(ks, np.int64))
        obs, _ = env.reset()
    return returns, inputs, choices


def explain_run(run_dir, *, episodes: int | None = None, slice_dims: tuple[int, int] | None = None,
                slice_at: dict[int, float] | None = None, out_dir=None) -> dict:
    """Write the interpretability report of the policy in ``run_dir``; returns a summary with ``metrics``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise IntarsiaError(f"run folder {run_dir} does not exist")
    cfg, env, policy = _load_policy(run_dir)
    episodes = int(episodes if episodes is not None else max(1, cfg.eval.episodes))
    out = Path(out_dir) if out_dir else run_dir / "interpretability"
    return explain_policy(policy, env, out, episodes=episodes, seed=eval_seed(cfg),
                          slice_dims=slice_dims, slice_at=slice_at, title=f"{cfg.name} ({cfg.policy.name} on {cfg.env.name})")


def explain_policy(policy, env, out: Path, *, episodes: int, seed: int, slice_dims=None,
                   slice_at: dict[int, float] | None = None, title: str = "") -> dict:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    returns, inputs, choices = rollout(policy, env, episodes, seed)
    metrics: dict[str, float] = {"eval_return": float(np.mean(returns))}
    actor = policy.actor_module
    dim = inputs[0].shape[1]
    names = _input_names(env, policy, dim)
    summary: dict = {"title": title, "episodes": episodes, "returns": returns, "input_names": names}
    lines = [f"# Interpretability report: {title}", "",
             f"Greedy evaluation: {episodes} episodes, mean return {metrics['eval_return']:.2f}.", ""]
    if not hasattr(actor, "coefficients"):
        lines.append("The actor is an MLP: it has no sub-policies to report.")
        summary.update(metrics=metrics)
        return _finish(out, summary, lines)

    k = actor.num_subpolicies
    stats = usage_stats(choices, k)
    metrics.update({key: float(stats[key]) for key in ("subpolicies_used", "switch_rate", "usage_entropy",
                                                          "mean_segment_length")})
    coef = {key: v.cpu().numpy() for key, v in actor.coefficients().items()}
    shown = int(np.argmin(returns))  # the hardest start (for Pendulum: a swing-up), where the most happens
    feature_names = actor.features.names(names)
    action_names = [f"a{j}" for j in range(actor.action_dim)]
    lines += ["| number | value |", "|---|---|",
              f"| sub-policies (K) | {k} |",
              f"| sub-policies used (>= {MIN_SHARE:.0%} of steps) | {stats['subpolicies_used']} |",
              f"| usage entropy (nats; max ln K = {math.log(k):.3f}) | {stats['usage_entropy']:.3f} |",
              f"| switch rate (per step) | {stats['switch_rate']:.3f} |",
              f"| mean segment length (steps) | {stats['mean_segment_length']:.1f} |", "",
              "Usage: " + ", ".join(f"#{i} {s:.1%}" for i, s in enumerate(stats["usage"]) if k <= MAX_SHOWN or s > 0), "",
              "## Sub-policies", "",
              "Each sub-policy is linear in the features: pre-tanh mean = W x + b (the action is tanh of it,"
              " rescaled to the action box). One table per action dimension; one column per sub-policy.", ""]
    cols = shown_subpolicies(stats["usage"])
    if len(cols) < k:
        rest = 1.0 - float(sum(stats["usage"][i] for i in cols))
        lines += [f"K = {k}: the tables and the heat map show the {len(cols)} most used sub-policies; the other"
                  f" {k - len(cols)} together act on {rest:.1%} of the steps (all coefficients: summary.json).", ""]
    for j, a in enumerate(action_names):
        lines += [f"### mean of {a}", "", "| feature | " + " | ".join(f"#{i}" for i in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for f, fname in enumerate(feature_names):
            lines.append(f"| {fname} | " + " | ".join(f"{coef['mean_weight'][i, f, j]:+.3f}" for i in cols) + " |")
        lines.append("| bias | " + " | ".join(f"{coef['mean_bias'][i, j]:+.3f}" for i in cols) + " |")
        lines.append("")
    summary.update(metrics=metrics, usage=stats["usage"], feature_names=feature_names,
                   coefficients={key: v.tolist() for key, v in coef.items()},
                   shown_episode=shown, shown_episode_choices=choices[shown].tolist())
    visited = np.concatenate(inputs)
    if slice_dims is None:
        order = np.argsort(-visited.std(0))
        slice_dims = (int(order[0]), int(order[1] if len(order) > 1 else order[0]))
    if max(slice_dims) >= dim or min(slice_dims) < 0:
        raise IntarsiaError(f"slice dimensions {slice_dims} out of range for {dim} inputs")
    slice_at = {int(i): float(v) for i, v in (slice_at or {}).items()}
    if any(i < 0 or i >= dim or i in slice_dims for i in slice_at):
        raise IntarsiaError(f"slice_at: inputs {sorted(slice_at)} must be among the {dim} inputs and not the slice's "
                            f"{slice_dims}")
    slice_k = _slice(actor, visited, slice_dims, torch, at=slice_at)
    _plots(out, coef, feature_names, action_names, stats, inputs[shown], choices[shown], names, visited,
           np.concatenate(choices), slice_dims, slice_k, title)
    lines += ["## Figures", "", "![coefficients](coefficients.png)", "", "![usage](usage.png)", "",
              "![episode](episode.png)", "",
              f"![slice](slice.png) (slice over {names[slice_dims[0]]} and {names[slice_dims[1]]}"
              + "".join(f"; {names[i]} = {v:g}" for i, v in sorted(slice_at.items()))
              + ("; other inputs at their mean over the visited states" if dim > 2 + len(slice_at) else "") + ")", ""]
    summary["slice"] = {"dims": list(slice_dims), "at": {names[i]: v for i, v in sorted(slice_at.items())}}
    return _finish(out, summary, lines)


def _slice(actor, visited: np.ndarray, dims, torch, n: int = 101, at: dict[int, float] | None = None) -> dict:
    lo, hi = visited.min(0), visited.max(0)
    pad = 0.05 * np.maximum(hi - lo, 1e-6)
    xs = np.linspace(lo[dims[0]] - pad[dims[0]], hi[dims[0]] + pad[dims[0]], n)
    ys = np.linspace(lo[dims[1]] - pad[dims[1]], hi[dims[1]] + pad[dims[1]], n)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.repeat(visited.mean(0, keepdims=True), n * n, 0).astype(np.float32)
    for i, v in (at or {}).items():
        grid[:, i] = v
    grid[:, dims[0]], grid[:, dims[1]] = gx.ravel(), gy.ravel()
    device = next(actor.parameters()).device
    with torch.no_grad():
        choice = actor(torch.as_tensor(grid, device=device), explore=False)["choice"].cpu().numpy()
    return {"x": xs, "y": ys, "k": choice.reshape(n, n)}


MAX_SHOWN = 16
"""sub-policies shown one by one in the coefficient tables and heat map (the most used); the others are grouped"""


def subpolicy_colors(k: int) -> np.ndarray:
    """K distinct RGBA colours, one per sub-policy: tab10 / tab20 while they suffice, else K hues spread over
    the HSV circle in golden-ratio order (neighbouring indices get far-apart hues) at alternating saturation
    and lightness."""
    import matplotlib
    from matplotlib.colors import hsv_to_rgb

    if k <= 20:
        rgb = np.asarray(matplotlib.colormaps["tab10" if k <= 10 else "tab20"].colors[:k], float)
        return np.c_[rgb, np.ones(k)]
    i = np.arange(k)
    hue = np.argsort(np.argsort((i * 0.6180339887) % 1.0)) / k  # K evenly spaced hues, visited out of order
    hsv = np.stack([hue, np.where(i % 2, 0.55, 0.95), np.where(i % 3 == 0, 0.95, np.where(i % 3 == 1, 0.75, 0.55))], -1)
    return np.c_[hsv_to_rgb(hsv), np.ones(k)]


def subpolicy_cmap(k: int):
    """(colormap, norm) that send sub-policy index i to ``subpolicy_colors(k)[i]`` for every i < K (no clipping)."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    return ListedColormap(subpolicy_colors(k)), BoundaryNorm(np.arange(-0.5, k), k)


def shown_subpolicies(usage, limit: int = MAX_SHOWN) -> list[int]:
    """All sub-policies while K <= limit; else the ``limit`` most used, in index order."""
    k = len(usage)
    if k <= limit:
        return list(range(k))
    return sorted(int(i) for i in np.argsort(-np.asarray(usage), kind="stable")[:limit])


def _plots(out, coef, feature_names, action_names, stats, ep_inputs, ep_choices, names, visited, all_choices,
           dims, slice_k, title) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(stats["usage"])
    colors = subpolicy_colors(k)
    cmap, norm = subpolicy_cmap(k)
    shown = shown_subpolicies(stats["usage"])
    # coefficients: rows (sub-policy, action), columns features + bias; at most MAX_SHOWN sub-policies
    w = np.concatenate([coef["mean_weight"], coef["mean_bias"][:, None, :]], 1)[shown]  # (S, F+1, A)
    mat = w.transpose(0, 2, 1).reshape(len(shown) * len(action_names), -1)
    fig, ax = plt.subplots(figsize=(min(24.0, max(4.5, 1.0 + 0.6 * mat.shape[1])), min(30.0, 1.0 + 0.35 * mat.shape[0])))
    lim = float(np.abs(mat).max()) or 1.0
    im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(mat.shape[1]), feature_names + ["bias"], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(mat.shape[0]), [f"#{i} {a}" for i in shown for a in action_names], fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title("sub-policy coefficients (pre-tanh mean)" + ("" if len(shown) == k else
                 f"\nthe {len(shown)} most used of K = {k}"), fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "coefficients.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4, 3))
    fig.set_size_inches(max(4.0, min(12.0, 0.12 * k)), 3)
    ax.bar(range(k), stats["usage"], color=colors)
    ax.set_xlabel("sub-policy")
    ax.set_ylabel("share of steps")
    ax.set_title(f"usage (entropy {stats['usage_entropy']:.2f} nats)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "usage.png", dpi=110)
    plt.close(fig)

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    t = np.arange(len(ep_choices))
    if k > 20:  # one row per sub-policy this episode used (not K rows, most of them empty)
        used = sorted(set(int(i) for i in ep_choices))
        row = {c: r for r, c in enumerate(used)}
        ax0.scatter(t, [row[int(c)] for c in ep_choices], c=colors[ep_choices], s=6)
        ax0.set_yticks(range(len(used)), [f"#{c}" for c in used], fontsize=7 if len(used) <= 24 else 5)
    else:
        ax0.scatter(t, ep_choices, c=colors[ep_choices], s=6)
        ax0.set_yticks(range(k))
    ax0.set_ylabel("active sub-policy")
    ax0.set_title(f"lowest-return evaluation episode (overall switch rate {stats['switch_rate']:.3f})", fontsize=9)
    for j in range(min(ep_inputs.shape[1], 6)):
        ax1.plot(t, ep_inputs[:, j], label=names[j], lw=1)
    ax1.legend(fontsize=6, ncol=3)
    ax1.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out / "episode.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.pcolormesh(slice_k["x"], slice_k["y"], slice_k["k"], cmap=cmap, norm=norm, shading="auto", alpha=0.45)
    ax.scatter(visited[:, dims[0]], visited[:, dims[1]], c=colors[all_choices], s=3)
    ax.set_xlabel(names[dims[0]])
    ax.set_ylabel(names[dims[1]])
    ax.set_title("active sub-policy: slice (background), visited states (dots)", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "slice.png", dpi=110)
    plt.close(fig)


def _finish(out: Path, summary: dict, lines: list[str]) -> dict:
    (out / "report.md").write_text("\n".join(lines) + "\n")
    summary["markdown_path"] = str(out / "report.md")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    return summary

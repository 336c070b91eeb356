"""Caption datasets: record captions from any registered policy in any captioned env, sample caption pairs.

The paper annotates pairs of observations drawn from a dataset of NetHack play; only the messages (captions)
reach the LLM. Here a dataset is a HF ``datasets.Dataset`` of steps (``caption``, ``env_index``,
``episode``, ``t``, ``reward``), saved with ``save_to_disk``. Pairs are sampled from it; identical captions
are ties that never reach the annotator, and distinct pairs are deduplicated (order-free) so each is
annotated once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import CollectConfig, PairsConfig


def _section(section: Mapping | str) -> tuple[str, dict]:
    section = {"name": section} if isinstance(section, str) else dict(section)
    name = section.pop("name")
    return str(name), section


def make_env(section: Mapping | str, *, seed: int | None = None):
    """Build a registered env by name (+ options) through the core's registry."""
    from intarsia.build import build

    name, options = _section(section)
    env = build("envs", name, options)
    if seed is not None:
        env.reset(seed=seed)
    return env


def collect_captions(config: CollectConfig, *, fabric=None, progress: bool = False):
    """Run ``config.policy`` in ``config.num_envs`` copies of ``config.env`` for ``config.steps`` steps.

    Returns a ``datasets.Dataset`` with one row per env step. The policy is built through the registry and
    driven with the core's protocol (``act(obs, state, explore=True, reset=mask)``); it is not trained.
    """
    import gymnasium as gym
    from datasets import Dataset
    from intarsia.build import build
    from intarsia.interfaces import EnvSpec

    env_name, env_options = _section(config.env)
    fns = [lambda: build("envs", env_name, env_options) for _ in range(config.num_envs)]
    envs = gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    single = envs.envs[0]
    spec = EnvSpec(single.observation_space, single.action_space, config.num_envs)
    if fabric is None:
        from lightning import Fabric

        fabric = Fabric(accelerator="cpu", devices=1)
    pol_name, pol_options = _section(config.policy)
    policy = build("policies", pol_name, pol_options, env_spec=spec, fabric=fabric)
    obs, _ = envs.reset(seed=config.seed)
    state, just_reset = None, np.ones(config.num_envs, dtype=bool)
    episode = np.arange(config.num_envs)  # a fresh id per episode: env i starts with episode i
    next_episode = config.num_envs
    t = np.zeros(config.num_envs, dtype=np.int64)
    rows: dict[str, list] = {"caption": [], "env_index": [], "episode": [], "t": [], "reward": []}
    for _ in range(max(1, config.steps // config.num_envs)):
        actions, state = policy.act(obs, state, explore=True, reset=just_reset)
        obs, reward, terminated, truncated, infos = envs.step(actions)
        done = np.logical_or(terminated, truncated)
        captions = step_captions(infos, done)
        for i in range(config.num_envs):
            rows["caption"].append(captions[i])
            rows["env_index"].append(i)
            rows["episode"].append(int(episode[i]))
            rows["t"].append(int(t[i]))
            rows["reward"].append(float(reward[i]))
        t += 1
        just_reset = np.logical_or(terminated, truncated)
        for i in np.flatnonzero(just_reset):
            episode[i], next_episode, t[i] = next_episode, next_episode + 1, 0
    envs.close()
    return Dataset.from_dict(rows)


def _info_captions(infos: Any, n: int) -> list[str]:
    values = infos.get("caption") if isinstance(infos, Mapping) else None
    if values is None:
        return [""] * n
    mask = infos.get("_caption", np.ones(n, dtype=bool))
    return [str(values[i]) if mask[i] and values[i] is not None else "" for i in range(n)]


def step_captions(infos: Mapping, done: np.ndarray) -> list[str]:
    """Per-env captions of a vector step. With same-step autoreset, an ended env's own caption is in
    ``final_info`` (its top-level info belongs to the reset), so it is read from there."""
    n = len(done)
    out = _info_captions(infos, n)
    final = infos.get("final_info") if isinstance(infos, Mapping) else None
    if final is not None and np.any(done):
        final_caps = _info_captions(final, n)
        for i in np.flatnonzero(done):
            out[i] = final_caps[i]
    return out


def caption_counts(dataset) -> dict[str, int]:
    """How often each caption occurs in a step dataset."""
    out: dict[str, int] = {}
    for c in dataset["caption"]:
        out[c] = out.get(c, 0) + 1
    return out


# ----------------------------------------------------------------------------------------------------------
# pairs
# ----------------------------------------------------------------------------------------------------------
def pair_id(a: str, b: str) -> str:
    """Order-free id of a caption pair: the same for (a, b) and (b, a)."""
    lo, hi = sorted((a, b))
    return hashlib.sha1(json.dumps([lo, hi], ensure_ascii=False).encode("utf-8")).hexdigest()[:20]


def canonical(a: str, b: str) -> tuple[str, str, bool]:
    """The pair in canonical (sorted) order and whether it was swapped to get there."""
    return (a, b, False) if a <= b else (b, a, True)


@dataclass
class PairSet:
    """Sampled pairs (the training distribution) and the distinct ones that need an annotation."""

    first: list[str]  # caption shown first, per sampled pair
    second: list[str]  # caption shown second
    ids: list[str]  # pair_id per sampled pair
    unique: dict[str, tuple[str, str]]  # pair_id -> canonical (a, b), distinct captions only

    def __len__(self) -> int:
        return len(self.ids)

    def to_dataset(self):
        from datasets import Dataset

        return Dataset.from_dict({"first": self.first, "second": self.second, "pair_id": self.ids})


def sample_pairs(captions: Sequence[str], config: PairsConfig) -> PairSet:
    """Draw ``config.num_pairs`` pairs of captions.

    ``sampling="steps"`` draws two recorded steps uniformly (the paper: pairs of observations from the
    dataset, so frequent captions dominate); ``"captions"`` draws two distinct captions uniformly.
    """
    rng = np.random.default_rng(config.seed)
    pool = [c for c in captions if config.include_empty or c != ""]
    if config.sampling == "captions":
        pool = sorted(set(pool))
    elif config.sampling != "steps":
        raise ValueError(f"pairs.sampling must be 'steps' or 'captions', got {config.sampling!r}")
    if len(pool) == 0:
        raise ValueError("no captions to pair (empty dataset, or only empty captions with include_empty=false)")
    idx = rng.integers(0, len(pool), size=(config.num_pairs, 2))
    first = [pool[i] for i in idx[:, 0]]
    second = [pool[j] for j in idx[:, 1]]
    return pairset(first, second, [pair_id(a, b) for a, b in zip(first, second)])


def pairset(first: list[str], second: list[str], ids: list[str]) -> PairSet:
    """Sampled pairs plus the distinct non-identical ones (canonical order) that need an annotation."""
    unique: dict[str, tuple[str, str]] = {}
    for a, b, pid in zip(first, second, ids):
        if a != b and pid not in unique:
            lo, hi, _ = canonical(a, b)
            unique[pid] = (lo, hi)
    return PairSet(first, second, ids, unique)


def labelled_pairs(pairs: PairSet, labels: Mapping[str, int]) -> dict[str, list]:
    """Join sampled pairs with annotations (stored for the canonical order), flipping swapped pairs.

    Identical captions get TIE without any annotation. Pairs whose annotation is missing are UNKNOWN.
    """
    from .prompts import TIE, UNKNOWN, flip

    out: dict[str, list] = {"first": [], "second": [], "pair_id": [], "label": []}
    for a, b, pid in zip(pairs.first, pairs.second, pairs.ids):
        if a == b:
            label = TIE
        elif pid in labels:
            label = labels[pid]
            if canonical(a, b)[2]:
                label = flip(label)
        else:
            label = UNKNOWN
        out["first"].append(a)
        out["second"].append(b)
        out["pair_id"].append(pid)
        out["label"].append(int(label))
    return out


def save_dataset(dataset, path: str | Path) -> None:
    """``save_to_disk`` into a temporary folder, then rename: a killed job never leaves half a dataset."""
    import shutil

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    dataset.save_to_disk(str(tmp))
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)


def load_dataset(path: str | Path):
    from datasets import load_from_disk

    return load_from_disk(str(path))


def unique_captions(texts: Iterable[str]) -> list[str]:
    return sorted(set(texts))


def describe(dataset) -> dict[str, Any]:
    counts = caption_counts(dataset)
    n = len(dataset)
    return {
        "steps": n,
        "distinct_captions": len(counts),
        "empty_fraction": counts.get("", 0) / max(n, 1),
        "top_captions": sorted(counts.items(), key=lambda kv: -kv[1])[:10],
    }

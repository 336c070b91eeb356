"""Motif on the sparse captioned gridworld: extrinsic + Motif reward vs extrinsic only, at equal env steps.

For each annotator (``oracle``: the env's own event scores; ``llm``: the embedded Gemma 3 270M base model
with the paper's pairwise judge prompt, option log-probs in both orders; ``llm-pointwise``: the same model
with the yes/no pointwise judge that ``motif/demo`` uses) the motif pipeline collects captions with a
random policy, annotates the distinct caption pairs and trains the reward model once (seed 0). Then, over seeds, the recurrent PPO agent
trains on (a) the extrinsic reward only and (b) extrinsic + Motif's intrinsic reward, for the same number
of env steps. Reported per condition: success rate and extrinsic return over the last 100 episodes, and the
area under the success curve (mean success over all logged points). Also the annotators' agreement with the
oracle and the reward models' held-out preference accuracy.

    .venv/bin/python benchmarks/motif_sparse.py --seeds 0 1 2 3 4 --steps 60000
Writes benchmarks/results/motif_sparse.json and motif_sparse.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"

ENV = {"name": "CaptionedGrid-v0", "size": 7, "max_steps": 100}
PPO = {"name": "ppo", "rollout": 64, "hidden": 64, "lr": 3.0e-4, "entropy_coef": 0.01}


def reward_model_run(annotator: str, work: Path) -> dict:
    """collect -> annotate -> reward model (the pipeline job with skip_train)."""
    from intarsia.runner.api import resume_run, run_config

    run_dir = work / f"rm_{annotator}"
    cfg = {
        "job": "motif-pipeline", "name": f"bench-rm-{annotator}", "seed": 0,
        "collect": {"env": ENV, "policy": {"name": "random"}, "steps": 20000, "num_envs": 4},
        "pairs": {"num_pairs": 2000, "sampling": "captions"},
        "annotator": ({"kind": "oracle"} if annotator == "oracle" else
                      {"kind": "llm", "llm": {"name": "gguf", "progress": False}, "mode": "logprobs",
                       "judge": "pointwise" if annotator == "llm-pointwise" else "paper",
                       "prompt": {"game": "gridworld", "goal": "default"}}),
        "compare_with": ["oracle"] if annotator != "oracle" else ["random"],
        "reward_model": {"epochs": 10, "batch_size": 256, "lr": 1.0e-3, "hidden_dim": 32, "head_dims": [64, 64],
                         "char_embed_dim": 16, "accelerator": "cpu"},
        "skip_train": True,
    }
    if (run_dir / "config.yaml").exists():
        report = resume_run(run_dir)
    else:
        report = run_config(cfg, run_dir=run_dir)
    return {"dir": str(run_dir), "reward_model": str(run_dir / "reward_model.pt"),
            "preference_accuracy": report.get("preference_accuracy"),
            "agreement": report["annotation"].get("agreement", {}),
            "annotation_stats": report["annotation"].get("stats", {}),
            "caption_rewards": report.get("highest_rewarded_captions", [])}


def agent_run(name: str, seed: int, steps: int, work: Path, reward_model: str | None, coef: float) -> dict:
    from intarsia.runner.api import run_config
    from intarsia_motif.job import read_curves

    run_dir = work / f"{name}_s{seed}"
    if (run_dir / "report.json").exists():
        report = json.loads((run_dir / "report.json").read_text())
    else:
        rewards = [] if reward_model is None else [
            {"name": "motif", "coef": coef, "beta": 3.0, "threshold_quantile": 0.5, "reward_model": reward_model}]
        cfg = {"job": "train", "name": name, "seed": seed, "steps": steps, "num_envs": 8, "env": ENV,
               "policy": {**PPO, "seed": seed}, "rewards": rewards, "extrinsic_coef": 1.0,
               "fabric": {"accelerator": "cpu"}, "log": {"every": 2000, "progress": False},
               "checkpoint": {"every": 0}}
        report = run_config(cfg, run_dir=run_dir)
    curves = read_curves(run_dir)
    succ = [v for _, v in curves.get("episode/success", [])]
    m = report["metrics"]
    return {"success_rate": m.get("success_rate", 0.0), "return_mean": m.get("return_mean", 0.0),
            "success_auc": float(np.mean(succ)) if succ else 0.0,
            "curve": curves.get("episode/success", []), "seconds": report.get("seconds")}


def summarize(runs: list[dict]) -> dict:
    out = {}
    for key in ("success_rate", "return_mean", "success_auc"):
        vals = np.array([r[key] for r in runs], dtype=float)
        out[key] = {"mean": float(vals.mean()), "std": float(vals.std()), "values": vals.round(4).tolist()}
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for cond, runs in results["runs"].items():
        steps = sorted({s for r in runs for s, _ in r["curve"]})
        if not steps:
            continue
        mat = np.array([[dict(r["curve"]).get(s, np.nan) for s in steps] for r in runs])
        ax.plot(steps, np.nanmean(mat, axis=0), label=cond)
    ax.set_xlabel("env steps")
    ax.set_ylabel("success (episodes in each log window)")
    ax.set_title("CaptionedGrid-v0 (sparse): PPO, mean over seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=60000)
    p.add_argument("--coef", type=float, default=0.1, help="weight of the motif term (paper: 0.1)")
    p.add_argument("--annotators", nargs="+", default=["oracle", "llm", "llm-pointwise"],
                   choices=["oracle", "llm", "llm-pointwise"],
                   help="llm: the paper's pairwise judge prompt; llm-pointwise: the yes/no judge of motif/demo")
    p.add_argument("--work", type=Path, default=Path("/tmp/motif_sparse_bench"))
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    results: dict = {"steps": args.steps, "seeds": args.seeds, "coef": args.coef, "env": ENV, "policy": PPO,
                     "reward_models": {}, "runs": {}}
    for ann in args.annotators:
        results["reward_models"][ann] = reward_model_run(ann, args.work)
    conditions = {"extrinsic-only": None, **{f"motif-{a}": results["reward_models"][a]["reward_model"]
                                             for a in args.annotators}}
    for cond, rm in conditions.items():
        results["runs"][cond] = [agent_run(cond, s, args.steps, args.work, rm, args.coef) for s in args.seeds]
        print(cond, summarize(results["runs"][cond]), flush=True)
    results["summary"] = {cond: summarize(runs) for cond, runs in results["runs"].items()}
    results["seconds"] = round(time.time() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(results, RESULTS / "motif_sparse.png")
    (RESULTS / "motif_sparse.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({"summary": results["summary"],
                      "reward_models": {a: {k: v for k, v in r.items() if k != "caption_rewards"}
                                        for a, r in results["reward_models"].items()}}, indent=1))


if __name__ == "__main__":
    main()

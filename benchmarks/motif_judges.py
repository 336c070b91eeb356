"""Which judge can the embedded Gemma 3 270M base model be? Every annotator option of intarsia-motif, measured.

The motif pipeline collects captions of the core's CaptionedGrid-v0 with a random policy once (size 7,
20k steps: the 7 captions, 21 distinct pairs), then for each judge annotates the distinct pairs, trains the
reward model (seed 0, the demo's settings) and stops before the agent. Per judge:

* ``order_consistency``: fraction of judged pairs whose two orders name the same caption (pairwise judges
  asked in both orders; the pointwise judge is consistent by construction; single-order rows: n/a);
* ``agreement``, ``decisive_agreement``, ``kappa`` (Cohen's, three labels) with the oracle annotator
  (``EVENT_SCORES``), on the 19 pairs that are not few-shot examples, the same pairs for every row;
* ``spearman``: rank correlation of the trained reward model's normalised reward of the 7 captions with
  ``EVENT_SCORES`` (ties in the oracle get average ranks), and the ranking itself.

    INTARSIA_LLM_CACHE_DIR=/path/to/cache .venv/bin/python benchmarks/motif_judges.py [--only NAME ...]

Answers are cached by intarsia-llm (keyed by the prompt text), so a rerun is instant. Writes
benchmarks/results/motif_judges.json and motif_judges.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"

ENV = {"name": "CaptionedGrid-v0", "size": 7, "max_steps": 100}
#: the task line naming the key and the door (the pairwise rows; the pointwise judge is also run with it)
KEYDOOR = "In this game you must find the key, open the locked door with it, and reach the goal."
#: the gridworld's default task line (judges.TASK_TEXTS["gridworld"])
GENERIC = "In this game you must get through the level and reach the goal."
#: two labelled pairs of the task: a distractor beats a wall bump; a locked door beats a wall bump
FEW_SHOT = [{"first": "You bump into the wall.", "second": "A torch flickers on the wall.", "label": 2},
            {"first": "The door is locked.", "second": "You bump into the wall.", "label": 1}]

JUDGES = {
    "compact, one order": {"judge": "compact", "task_text": KEYDOOR, "both_orders": False},
    "compact, both orders": {"judge": "compact", "task_text": KEYDOOR},
    "compact, both orders, calibrated": {"judge": "compact", "task_text": KEYDOOR, "calibrate": True},
    "compact 2-shot, both orders": {"judge": "compact", "task_text": KEYDOOR, "few_shot": FEW_SHOT},
    "compact 2-shot, both orders, calibrated": {"judge": "compact", "task_text": KEYDOOR, "few_shot": FEW_SHOT,
                                                "calibrate": True},
    "pointwise, task names key and door": {"judge": "pointwise", "task_text": KEYDOOR},
    "pointwise (demo default)": {"judge": "pointwise", "task_text": GENERIC},
    # the paper's long prompt last: 42 uncached prompts of ~250 tokens
    "paper prompt, both orders (previous default)": {"judge": "paper"},
    "paper prompt, both orders, calibrated": {"judge": "paper", "calibrate": True},
}


def pipeline_config(name: str, judge: dict, seed: int) -> dict:
    return {
        "job": "motif-pipeline", "name": f"bench-judge-{name}", "seed": 0,
        "collect": {"env": ENV, "policy": {"name": "random"}, "steps": 20000, "num_envs": 4},
        "pairs": {"num_pairs": 2000, "sampling": "captions"},
        "annotator": {"kind": "llm", "llm": {"name": "gguf", "progress": False, "reuse_prefix": True, "n_threads": 1},
                      "mode": "logprobs", "prompt": {"game": "gridworld", "goal": "default"}, **judge},
        "compare_with": ["oracle"],
        "reward_model": {"epochs": 10, "batch_size": 256, "lr": 1.0e-3, "hidden_dim": 32, "head_dims": [64, 64],
                         "char_embed_dim": 16, "accelerator": "cpu", "seed": seed},
        "skip_train": True,
    }


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def measure(name: str, judge: dict, work: Path, shared: Path | None, seed: int) -> dict:
    from intarsia.builtin.gridworld import EVENT_SCORES
    from intarsia.runner.api import run_config
    from intarsia_motif.annotators import AnnotationLog, agreement
    from intarsia_motif.job import caption_rewards
    from scipy.stats import spearmanr

    run_dir = work / slug(name)
    if shared is not None and not (run_dir / "stages" / "pairs.json").exists():
        # the same collected captions and sampled pairs for every judge
        for sub in ("captions", "pairs"):
            shutil.copytree(shared / sub, run_dir / sub, dirs_exist_ok=True)
        (run_dir / "stages").mkdir(parents=True, exist_ok=True)
        for stage in ("collect", "pairs"):
            shutil.copy(shared / "stages" / f"{stage}.json", run_dir / "stages" / f"{stage}.json")
    t0 = time.perf_counter()
    report = run_config(pipeline_config(slug(name), judge, seed), run_dir=run_dir)
    seconds = time.perf_counter() - t0

    main, oracle = AnnotationLog(run_dir / "annotations.jsonl"), AnnotationLog(run_dir / "annotations_oracle.jsonl")
    shots = {frozenset((e["first"], e["second"])) for e in FEW_SHOT}
    pairs_by_id = _pairs_by_id(run_dir)
    common = [pid for pid in main.records if frozenset(pairs_by_id[pid]) not in shots]
    agree = agreement({p: main.labels()[p] for p in common}, oracle.labels())
    cons = [main.records[p]["order_consistent"] for p in common if "order_consistent" in main.records[p]]
    rows = caption_rewards(run_dir, {"threshold_quantile": 0.5, "beta": 3.0})
    caps = [r["caption"] for r in rows]
    rho = float(spearmanr([r["r_norm"] for r in rows], [EVENT_SCORES.get(c, 0.0) for c in caps])[0])
    stats = report["annotation"]["stats"]
    return {
        "judge": judge, "pairs_evaluated": len(common),
        "order_consistency": float(np.mean(cons)) if cons else None,
        "agreement": agree.get("agreement"), "decisive_agreement": agree.get("decisive_agreement"),
        "kappa": agree.get("kappa"), "kappa_symmetric": agree.get("kappa_symmetric"), "spearman": rho,
        "ranking": [c or "<empty>" for c in caps],
        "r_norm": {c or "<empty>": r["r_norm"] for c, r in zip(caps, rows)},
        "preference_accuracy": report.get("preference_accuracy"),
        "llm_calls": stats.get("llm_calls_now"), "seconds": round(seconds, 1), "dir": str(run_dir),
    }


def _pairs_by_id(run_dir: Path) -> dict:
    from intarsia_motif.dataset import load_dataset

    ds = load_dataset(run_dir / "pairs")
    return {pid: (a, b) for a, b, pid in zip(ds["first"], ds["second"], ds["pair_id"])}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    metrics = [("order_consistency", "order consistency"), ("kappa", "kappa vs oracle (pairs as sampled)"),
               ("kappa_symmetric", "kappa vs oracle (both orientations)"),
               ("spearman", "reward model Spearman vs oracle")]
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(names) + 1.5))
    y = np.arange(len(names))
    for k, (key, label) in enumerate(metrics):
        vals = [results[n].get(key) if results[n].get(key) is not None else np.nan for n in names]
        ax.barh(y + (k - 1.5) * 0.2, vals, height=0.2, label=label)
    ax.axvline(0, color="k", lw=0.8)
    for x in (0.5, 0.8):
        ax.axvline(x, color="gray", lw=0.6, ls="--")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-1, 1)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Gemma 3 270M base as a Motif judge on CaptionedGrid-v0 (21 caption pairs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="judge names (substrings) to run")
    ap.add_argument("--work", default="runs/bench-motif-judges")
    ap.add_argument("--seed", type=int, default=0, help="reward-model seed")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    work = Path(args.work)
    out = RESULTS / "motif_judges.json"
    results = json.loads(out.read_text())["results"] if out.exists() else {}
    shared = None
    for name, judge in JUDGES.items():
        if args.only and not any(s in name for s in args.only):
            continue
        print(f"[motif_judges] {name} ...", flush=True)
        res = measure(name, judge, work, shared, args.seed)
        shared = shared or Path(res["dir"])
        results[name] = res
        print(json.dumps({k: res[k] for k in ("order_consistency", "kappa", "kappa_symmetric", "decisive_agreement", "spearman",
                                              "ranking", "llm_calls", "seconds")}), flush=True)
        RESULTS.mkdir(exist_ok=True)
        results = {n: results[n] for n in JUDGES if n in results}
        out.write_text(json.dumps({"task": "CaptionedGrid-v0 size 7, 20k random-policy steps, 21 distinct pairs",
                                   "model": "Gemma 3 270M base (intarsia-llm gguf, embedded)",
                                   "results": results}, indent=2))
        plot(results, RESULTS / "motif_judges.png")


if __name__ == "__main__":
    main()

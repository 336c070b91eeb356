"""capprobe: one run of a recipe summarised into a results file, and the PCFG step time per window size.

    .venv/bin/python benchmarks/capprobe_setups.py run capprobe/pcfg sweep.enabled=false \
        --out benchmarks/results/capprobe_pcfg_seed0.json
    .venv/bin/python benchmarks/capprobe_setups.py step-time --out benchmarks/results/capprobe_pcfg_step_time.json
    .venv/bin/python benchmarks/capprobe_setups.py summarise RUN_DIR --out OUT.json --command "intarsia run ..."

``run`` runs the recipe (with the ``key=value`` overrides) in ``--run-dir`` and writes what the README quotes:
the report's metrics, the count-b check before fine-tuning, pre-trained and fine-tuned accuracies on every
test set, the probes beside their untrained and not-in-pretraining controls, the attention masses on the
operand tokens, stage seconds. ``step-time`` times optimizer steps of the recipe's model on PCFG windows
of 64 and 250 tokens (next-token loss, one torch thread).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def summarise(run_dir: Path, command: str) -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    analyses = json.loads((run_dir / "analyses.json").read_text())
    blocks = lambda r: {k: round(v["accuracy"], 4) for k, v in r.items()}  # noqa: E731
    return {
        "command": command,
        "metrics": report["metrics"],
        "checks": report.get("checks"),
        "pretrain_accuracies": report["pretrain_accuracies"],
        "finetune_accuracies": report["finetune_accuracies"],
        "probe": {"pretrained": blocks(analyses["probe_before"]), "finetuned": blocks(analyses["probe_after"]),
                  "untrained": blocks(analyses["probe_random_init"]),
                  "not_in_pretraining": blocks(analyses["probe_not_pretrained"]),
                  "chance": round(max(v["chance"] for v in analyses["probe_before"].values()), 4)},
        "attention": {k: v["metrics"] for k, v in analyses["attention"].items()},
        "pruning_curve": report["pruning_curve"],
        "reverse_curve": report["reverse_curve"], "scratch_curve": report["scratch_curve"],
        "training": report["training"], "seconds": report.get("seconds"),
        "token_shares": token_shares(run_dir),
        "new_task_answers": new_task_answers(run_dir),
    }


def new_task_answers(run_dir: Path) -> dict:
    """On the new task's uncorrelated prompts: how often each model answers count(a), count(a) + 1 and
    count(b) (what a model that ignores the operand, or a wrapper, would say)."""
    import torch
    from intarsia.runner.api import prepare
    from intarsia_capprobe.job import Experiment
    from intarsia_capprobe.model import MiniGPT, answer_logits

    _, _, config = prepare(str(run_dir / "config.yaml"))
    exp = Experiment(config)
    d = exp.eval["uncorrelated"]
    out = {}
    for name in (f"pretrain_{config.task.prior}", "finetune"):
        model = MiniGPT.load(run_dir / "models" / f"{name}.pt").eval()
        with torch.no_grad():
            pred = answer_logits(model, d["input_ids"], d["positions"]).argmax(-1) - exp.task.vocab.number(0)
        out[name] = {"count_a": float((pred == d["original"]).float().mean()),
                     "count_a_plus_1": float((pred == d["original"] + 1).float().mean()),
                     "count_b": float((pred == d["new"]).float().mean())}
    return out


def token_shares(run_dir: Path) -> dict:
    """Share of the a and b tokens among the prompt tokens of the eval sets: the mass uniform attention
    would put on them (the reference for the attention map)."""
    import numpy as np
    from intarsia.runner.api import prepare
    from intarsia_capprobe.job import Experiment

    _, _, config = prepare(str(run_dir / "config.yaml"))
    exp = Experiment(config)
    v = exp.task.vocab
    out = {}
    for split, d in exp.eval.items():
        ids = d["input_ids"].numpy()
        real = np.zeros_like(ids, dtype=bool)
        for i, p in enumerate(d["positions"].numpy()):
            real[i, : p + 1] = True
        out[split] = {g: float((ids[real] == v.letter(k)).mean()) for g, k in (("a", 0), ("b", 1))}
    return out


def step_time(out: Path, steps: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from intarsia_capprobe.config import ModelConfig, TaskConfig
    from intarsia_capprobe.model import MiniGPT, next_token_loss
    from intarsia_capprobe.tasks import TaskPair

    res = {}
    for seq_len, window in ((64, 16), (250, 40)):
        tp = TaskPair(TaskConfig(kind="pcfg", seq_len=seq_len, count_window=window, letters=10, prior="low",
                                 next_token=True))
        ds = tp.dataset("pretrain", 64, 0).with_format("torch", columns=["input_ids", "answer_pos", "label", "lm_start"])
        torch.manual_seed(0)
        model = MiniGPT(ModelConfig(n_layer=3, n_head=4, d_model=64), len(tp.vocab), tp.width)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        batch = ds[:64]
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = next_token_loss(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        res[f"seq_len={seq_len}"] = {"seconds_per_step": (time.perf_counter() - t0) / steps, "batch_size": 64}
    import os

    res["load_average_1min"] = os.getloadavg()[0]  # the machine is shared: the absolute times depend on it
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("recipe")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--run-dir", type=Path, default=None)
    r.add_argument("overrides", nargs="*")
    m = sub.add_parser("summarise", help="summarise an existing run directory")
    m.add_argument("run_dir", type=Path)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--command", required=True, help="the command that made the run (recorded)")
    t = sub.add_parser("step-time")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.what == "step-time":
        out = step_time(args.out, args.steps)
    elif args.what == "summarise":
        out = summarise(args.run_dir, args.command)
    else:
        import torch
        from intarsia.runner.api import run_config

        torch.set_num_threads(1)
        run_dir = args.run_dir or Path("/tmp") / f"{args.recipe.replace('/', '_')}_run"
        overrides = dict(o.split("=", 1) for o in args.overrides)
        config: dict = {"extends": args.recipe}
        for key, value in overrides.items():  # dotted keys -> nested mapping (values parsed as YAML)
            import yaml

            node = config
            *head, last = key.split(".")
            for k in head:
                node = node.setdefault(k, {})
            node[last] = yaml.safe_load(value)
        run_config(config, run_dir=run_dir)
        out = summarise(run_dir, f"capprobe_setups.py run {args.recipe} {' '.join(args.overrides)}")
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1)[:3000])


if __name__ == "__main__":
    main()

"""R2I (S3M) vs DreamerV3 (GRU-RSSM) on BSuite memory_length over seeds (Samsami et al., 2024, Fig. 4), on
`intarsia sweep` and `intarsia compare`.

Each run is a plugin recipe run by the core's train job, as a user would run it: ``r2i/memory-length`` and
``r2i/dreamerv3-memory-length`` (same settings and budget, about the same number of world-model
parameters), with the memory length and the chunk length (one whole episode, L + 2) overridden. One sweep
per memory length, agent and seed batch. Then `intarsia compare` groups the runs of one memory length by
agent (``policy.name``, baseline DreamerV3) on two scores:

- ``success_rate``: the training success over the last 100 episodes at the end of the budget (exploring
  policy; chance is 0.5);
- ``eval_success``: 50 greedy episodes after training.

The learning curves are ``episode/success`` (the success of the episodes that ended in each
``--log-every`` window). ``solved_at`` in ``runs.json`` is the first window whose success is >= 0.9.

    .venv/bin/python benchmarks/r2i_memory.py --lengths 30 --seeds 0-4                  # the claim: 10 runs
    .venv/bin/python benchmarks/r2i_memory.py --lengths 30 --seeds 0-4 --agents r2i      # half of it, e.g.
    .venv/bin/python benchmarks/r2i_memory.py --lengths 30 --seeds 0-4 --agents dreamerv3 #   on two cores

The runs stay under ``--runs`` (default ``runs/r2i_memory``); the same command again finishes an interrupted
sweep (finished runs are kept, runs with checkpoints resume) and recomputes the comparison of every sweep
found there. Results: ``benchmarks/results/r2i_memory/L<L>/<score>/compare.{json,md}``, plots beside them,
``benchmarks/results/r2i_memory/runs.json`` (every run's curve and ``solved_at``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from seed_sweeps import add_sweep_arguments, sweep_once  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "r2i_memory"
RECIPES = {"r2i": "r2i/memory-length", "dreamerv3": "r2i/dreamerv3-memory-length"}
SCORES = ("success_rate", "eval_success")
CURVE = "episode/success"
SOLVED = 0.9


def sweep_dir(args, length: int, agent: str, seeds: str) -> Path:
    return args.runs / f"L{length}-{agent}-seeds-{seeds}"


def run_sweeps(args) -> None:
    for seeds in args.seeds:
        for length in args.lengths:
            for agent in args.agents:
                overrides = [f"env.memory_length={length}", f"policy.batch_length={length + 2}",
                             f"steps={args.steps_for[length]}", f"log.every={args.log_every}", "log.progress=false",
                             "checkpoint.every=5000", "eval.final=true", "eval.episodes=50"]
                sweep_once(sweep_dir(args, length, agent, seeds), RECIPES[agent], overrides, seeds=seeds,
                           workers=args.workers, label=f"L={length} {agent} seeds {seeds}")


def finished_runs(sweep: Path) -> list[Path]:
    return sorted(r.parent for r in sweep.rglob("report.json") if r.parent != sweep)


def curve(run: Path) -> list[dict]:
    from intarsia.compare.collect import curve_of

    return [{"step": int(step), "success": value} for step, value in curve_of(run, CURVE)]


def run_table(args) -> list[dict]:
    """Every finished run under ``--runs``: its agent, memory length, seed, scores, curve and first solved window."""
    from omegaconf import OmegaConf

    out = []
    for sweep in sorted(args.runs.glob("L*-*-seeds-*")):
        length, agent = re.match(r"L(\d+)-(\w+?)-seeds-", sweep.name).groups()
        for run in finished_runs(sweep):
            report = json.loads((run / "report.json").read_text())
            cfg = OmegaConf.load(run / "config.yaml")
            points = curve(run)
            solved = next((p["step"] for p in points if p["success"] >= SOLVED), None)
            out.append({"agent": agent, "memory_length": int(length), "seed": int(cfg.seed), "run_dir": str(run),
                        "steps": report["steps"], "seconds": round(report["seconds"], 1),
                        **{s: report["metrics"].get(s) for s in SCORES}, "solved_at": solved, "curve": points})
    return sorted(out, key=lambda r: (r["memory_length"], r["agent"], r["seed"]))


def compare_all(args) -> None:
    from intarsia.compare import compare

    runs = run_table(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "runs.json").write_text(json.dumps({"command": "benchmarks/r2i_memory.py " + " ".join(args.argv),
                                                    "runs": runs}, indent=2), encoding="utf-8")
    for length in sorted({r["memory_length"] for r in runs}):
        dirs = sorted(args.runs.glob(f"L{length}-*-seeds-*"))
        groups = {r["agent"] for r in runs if r["memory_length"] == length}
        if groups != set(RECIPES):
            print(f"L={length}: only {sorted(groups)} finished; no comparison", flush=True)
            continue
        for score in SCORES:
            out = args.out / f"L{length}" / score
            compare(dirs, score, by="policy.name", baseline="policy.name=dreamerv3", curve=CURVE, out=out,
                    reps=args.reps)
            saved = json.loads((out / "compare.json").read_text())
            these = [r for r in runs if r["memory_length"] == length]
            saved["budget"] = {"steps": these[0]["steps"], "runs": len(these),
                               "run_seconds_total": round(sum(r["seconds"] for r in these), 1),
                               "command": "benchmarks/r2i_memory.py " + " ".join(args.argv)}
            (out / "compare.json").write_text(json.dumps(saved, indent=2), encoding="utf-8")
            print((out / "compare.md").read_text(), flush=True)
    print(readme_table(args.out, runs), flush=True)


def readme_table(out: Path, runs: list[dict]) -> str:
    """The plugin README's table: per memory length and agent, IQM [95% CI] of both scores, P(R2I > DreamerV3)
    on the training success, the seeds solved and the first solved window of each seed."""

    def cell(v: dict) -> str:
        return f"{v['value']:.2f} [{v['low']:.2f}, {v['high']:.2f}]"

    rows = ["| L | agent | runs | training success IQM | greedy success IQM | P(R2I > DreamerV3), training | "
            "seeds solved (window >= 0.9) | first solved window, per seed | minutes per run |",
            "|---|---|---|---|---|---|---|---|---|"]
    for length_dir in sorted(out.glob("L*"), key=lambda p: int(p.name[1:])):
        length = int(length_dir.name[1:])
        train = json.loads((length_dir / "success_rate" / "compare.json").read_text())["groups"]
        greedy = json.loads((length_dir / "eval_success" / "compare.json").read_text())["groups"]
        for agent in ("dreamerv3", "r2i"):
            key = f"policy.name={agent}"
            mine = [r for r in runs if r["memory_length"] == length and r["agent"] == agent]
            solved = [r["solved_at"] for r in mine]
            p = "baseline" if agent == "dreamerv3" else cell(train[key]["probability_of_improvement"])
            minutes = sum(r["seconds"] for r in mine) / 60 / max(len(mine), 1)
            rows.append(f"| {length} | {'R2I (S3M)' if agent == 'r2i' else 'DreamerV3 (GRU-RSSM)'} | "
                        f"{train[key]['runs']} | {cell(train[key]['iqm'])} | {cell(greedy[key]['iqm'])} | {p} | "
                        f"{sum(s is not None for s in solved)}/{len(solved)} | "
                        f"{' / '.join('-' if s is None else f'{s:,}' for s in solved)} | {minutes:.0f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[30])
    parser.add_argument("--steps", type=int, nargs="+", default=None,
                        help="env steps per run: one value, or one per --lengths value (default 5k for L<=10, "
                             "14k above)")
    parser.add_argument("--agents", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--log-every", type=int, default=1000)
    add_sweep_arguments(parser, runs="runs/r2i_memory", out=RESULTS)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    steps = args.steps or [5_000 if length <= 10 else 14_000 for length in args.lengths]
    if len(steps) not in (1, len(args.lengths)):
        parser.error("--steps takes one value or one per --lengths value")
    args.steps_for = dict(zip(args.lengths, steps * len(args.lengths) if len(steps) == 1 else steps, strict=False))
    if not args.compare_only:
        run_sweeps(args)
    if not args.no_compare:
        compare_all(args)


if __name__ == "__main__":
    main()

"""Adam LMCDQN vs epsilon-greedy DQN on N-chain over seeds (Ishfaq et al., 2024, Fig. 1), on `intarsia sweep`
and `intarsia compare`.

Each run is the plugin's recipe run by the core's train job (``lmcdqn/nchain``, ``lmcdqn/dqn-nchain``: one
source of truth for the hyperparameters), one sweep per algorithm over ``env.n`` and the seeds. Then
`intarsia compare` groups the runs by algorithm (``policy.name``) with each chain length as a task
(``--task env.n``: rliable's stratified bootstrap over a runs x tasks matrix), for two scores:

- ``eval_return``: the final greedy episode (the deterministic env makes it equal to the authors' 20 test
  episodes; for LMCDQN it is the current posterior sample), max 10;
- ``return_mean``: the mean return of the last ``--window`` training episodes (LMCDQN acts greedily under
  its sample while training; DQN with epsilon at its floor 0.01), max 10.

    .venv/bin/python benchmarks/lmcdqn_nchain.py --ns 50 75 --seeds 0-4 5-9 --steps 5000 --workers 3

writes ``benchmarks/results/lmcdqn_nchain/{eval_return,return_mean}/compare.{json,md}`` and plots. The runs
stay under ``--runs`` (default ``runs/lmcdqn_nchain``); run the command again to finish an interrupted sweep
(finished runs are kept) and to recompute the comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from seed_sweeps import sweep_once  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "lmcdqn_nchain"
RECIPES = {"lmcdqn": "lmcdqn/nchain", "dqn": "lmcdqn/dqn-nchain"}
METRICS = ("eval_return", "return_mean")


def run_sweeps(args) -> list[Path]:
    """One sweep per seed batch and algorithm, batches first: a sweep cut short by the CPU budget leaves whole
    batches of both algorithms on every chain length (compare needs as many runs per task)."""
    overrides = [f"steps={args.steps}", "eval.final=true", "eval.episodes=1", f"log.window={args.window}",
                 f"log.every={args.log_every}", "checkpoint.every=0", "log.progress=false"]
    dirs = []
    for seeds in args.seeds:
        for algo in args.algos:
            sweep_dir = args.runs / f"{algo}-seeds-{seeds}"
            sweep_once(sweep_dir, RECIPES[algo], overrides, seeds=seeds, grid=[f"env.n={','.join(map(str, args.ns))}"],
                       workers=args.workers, label=f"{algo} seeds {seeds}")
            dirs.append(sweep_dir)
    return dirs


def compare_all(dirs: list[Path], args) -> None:
    from intarsia.compare import compare

    for metric in METRICS:
        out = compare(dirs, metric, by="policy.name", task="env.n", baseline="policy.name=dqn",
                      curve="episode/return", out=args.out / metric, reps=args.reps, gap=10.0)
        seconds = sum(json.loads((Path(d) / "report.json").read_text())["seconds"]
                      for g in out["groups"].values() for d in g["dirs"])
        budget = {"steps": args.steps, "runs": sum(g["runs"] for g in out["groups"].values()),
                  "run_seconds_total": round(seconds, 1), "workers": args.workers,
                  "command": "benchmarks/lmcdqn_nchain.py " + " ".join(args.argv)}
        saved = json.loads((args.out / metric / "compare.json").read_text())
        saved["budget"] = budget
        (args.out / metric / "compare.json").write_text(json.dumps(saved, indent=2), encoding="utf-8")
        print((args.out / metric / "compare.md").read_text(), flush=True)
    print(readme_table(args.out), flush=True)


def readme_table(out: Path) -> str:
    """The plugin README's table, from the compare.json files under ``out``: per chain length and overall
    (stratified over the chain lengths), IQM [95% CI] of both algorithms and P(LMCDQN > DQN)."""

    def cell(v: dict) -> str:
        return f"{v['value']:.2f} [{v['low']:.2f}, {v['high']:.2f}]"

    rows = ["| score | N | runs (LMCDQN / DQN) | Adam LMCDQN IQM | ε-greedy DQN IQM | P(LMCDQN > DQN) |",
            "|---|---|---|---|---|---|"]
    for metric in METRICS:
        result = json.loads((out / metric / "compare.json").read_text())
        lmc, dqn = result["groups"]["policy.name=lmcdqn"], result["groups"]["policy.name=dqn"]
        for task in result["tasks"]:
            a, b = lmc["per_task"][task], dqn["per_task"][task]
            rows.append(f"| `{metric}` | {task.split('=')[1]} | {a['runs']} / {b['runs']} | {cell(a['iqm'])} | {cell(b['iqm'])} | "
                        f"{cell(a['probability_of_improvement'])} |")
        rows.append(f"| `{metric}` | all (stratified) | {lmc['runs']} / {dqn['runs']} | {cell(lmc['iqm'])} | {cell(dqn['iqm'])} | "
                    f"{cell(lmc['probability_of_improvement'])} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", type=int, nargs="+", default=[50, 75])
    parser.add_argument("--seeds", nargs="+", default=["0-4", "5-9"], help="seed batches, each one sweep: 0-4 5-9")
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--window", type=int, default=50, help="training episodes behind return_mean")
    parser.add_argument("--log-every", type=int, default=1000)
    parser.add_argument("--algos", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--runs", type=Path, default=Path("runs/lmcdqn_nchain"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-compare", action="store_true", help="run the sweeps only")
    parser.add_argument("--dirs", type=Path, nargs="+",
                        help="compare these sweep folders as they are (no runs started): finished runs only")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    dirs = args.dirs or run_sweeps(args)
    if not args.no_compare:
        compare_all(dirs, args)


if __name__ == "__main__":
    main()

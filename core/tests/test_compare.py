"""``intarsia compare`` on a fixture of hand-made runs: its IQM is the mean of the middle half, its CIs match a
plain percentile bootstrap of the same statistic, and it writes compare.json, compare.md and the plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("rliable")

A = [0.1, 0.9, 0.4, 0.5, 0.6, 0.3, 0.7, 0.2]  # sorted: .1 .2 .3 .4 .5 .6 .7 .9
B = [0.8, 0.6, 0.9, 1.0, 0.7, 0.75, 0.95, 0.85]


def _runs(root, name, scores):
    for seed, score in enumerate(scores):
        d = root / name / f"seed-{seed}"
        (d / "logs").mkdir(parents=True)
        (d / "report.json").write_text(json.dumps({"seed": seed, "metrics": {"success_rate": score}}))
        (d / "config.yaml").write_text(f"name: {name}\nseed: {seed}\npolicy: {{name: {name}}}\n")
        rows = "\n".join(f"{step},{score * step / 300:.4f}" for step in (100, 200, 300))
        (d / "logs" / "metrics.csv").write_text("step,episode/return\n" + rows + "\n")


def test_compare_matches_a_hand_computation(tmp_path):
    from intarsia.compare import compare

    _runs(tmp_path, "a", A)
    _runs(tmp_path, "b", B)
    out = compare([tmp_path / "a", tmp_path / "b"], "success_rate", baseline="a", curve="episode/return",
                  out=tmp_path / "cmp", reps=4000)
    a, b = out["groups"]["a"], out["groups"]["b"]
    assert a["iqm"]["value"] == pytest.approx(np.mean([0.3, 0.4, 0.5, 0.6]))  # middle 50% of 8 runs
    assert b["iqm"]["value"] == pytest.approx(np.mean([0.75, 0.8, 0.85, 0.9]))
    # rliable's median is over tasks of the per-task mean of runs: with one task, the mean
    assert a["mean"]["value"] == pytest.approx(np.mean(A)) and a["median"]["value"] == pytest.approx(np.mean(A))
    assert a["optimality_gap"]["value"] == pytest.approx(np.mean(1 - np.array(A)))

    # percentile bootstrap of the IQM by hand (one task: the stratified bootstrap resamples the runs)
    rng = np.random.default_rng(1)
    x = np.array(A)
    boot = []
    for _ in range(20000):
        s = np.sort(rng.choice(x, size=len(x)))
        boot.append(s[2:6].mean())
    low, high = np.percentile(boot, [2.5, 97.5])
    assert a["iqm"]["low"] == pytest.approx(low, abs=0.03) and a["iqm"]["high"] == pytest.approx(high, abs=0.03)
    assert a["iqm"]["low"] < a["iqm"]["value"] < a["iqm"]["high"]

    # P(b > a) by hand: the fraction of pairs where b wins (ties count half)
    pairs = [(bi > ai) + 0.5 * (bi == ai) for bi in B for ai in A]
    assert b["probability_of_improvement"]["value"] == pytest.approx(np.mean(pairs))
    assert "probability_of_improvement" not in a

    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert saved["groups"]["b"]["iqm"] == b["iqm"]
    assert saved["curves"]["a"]["steps"] == [100, 200, 300]
    assert saved["curves"]["a"]["iqm"][-1] == pytest.approx(a["iqm"]["value"], abs=1e-3)
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert f"| a | 8 | {a['iqm']['value']:.3f} [" in table
    for name in ("compare_aggregates.png", "compare_profiles.png", "compare_curves.png"):
        assert (tmp_path / "cmp" / name).stat().st_size > 5000

    again = compare([tmp_path / "a", tmp_path / "b"], "success_rate", baseline="a", out=tmp_path / "cmp2", reps=4000)
    assert again["groups"]["a"]["iqm"] == a["iqm"]  # a fixed bootstrap seed: the same CIs every time


def test_compare_groups_by_a_config_key_and_names_a_missing_metric(tmp_path):
    from intarsia.cli import main
    from intarsia.compare import compare

    _runs(tmp_path / "all", "a", A[:4])
    _runs(tmp_path / "all", "b", B[:4])
    out = compare([tmp_path / "all"], "success_rate", by="policy.name", reps=500)
    assert sorted(out["groups"]) == ["policy.name=a", "policy.name=b"]
    assert main(["compare", str(tmp_path / "all"), "--metric", "nope"]) == 2


# two tasks (chain lengths) per group, four seeds each: (runs, tasks) matrices
TASKS_A = {50: [1.0, 2.0, 3.0, 4.0], 75: [0.0, 0.5, 5.0, 6.0]}
TASKS_B = {50: [3.0, 4.0, 5.0, 9.0], 75: [1.0, 2.0, 6.0, 7.0]}


def _task_runs(root, name, per_task):
    for n, scores in per_task.items():
        for seed, score in enumerate(scores):
            d = root / name / f"env.n={n}" / f"seed-{seed}"
            (d / "logs").mkdir(parents=True)
            (d / "report.json").write_text(json.dumps({"seed": seed, "metrics": {"eval_return": score}}))
            (d / "config.yaml").write_text(f"seed: {seed}\nenv: {{name: chain, n: {n}}}\npolicy: {{name: {name}}}\n")
            rows = "\n".join(f"{step},{score * step / 200:.4f}" for step in (100, 200))
            (d / "logs" / "metrics.csv").write_text("step,episode/return\n" + rows + "\n")


def _hand_stratified_iqm_ci(per_task, reps=20000, seed=3):
    """Percentile bootstrap that resamples the runs of each task on its own, then takes the IQM of all scores."""
    rng = np.random.default_rng(seed)
    columns = [np.array(v) for v in per_task.values()]
    sample = np.sort(np.concatenate([c[rng.integers(0, len(c), size=(reps, len(c)))] for c in columns], axis=1), axis=1)
    k = sample.shape[1] // 4
    return np.percentile(sample[:, k:sample.shape[1] - k].mean(axis=1), [2.5, 97.5])


def _hand_poi(x, y):
    return np.mean([(xi > yi) + 0.5 * (xi == yi) for xi in x for yi in y])


def test_compare_stratifies_over_tasks_as_a_hand_computation(tmp_path):
    from intarsia.compare import compare

    _task_runs(tmp_path, "a", TASKS_A)
    _task_runs(tmp_path, "b", TASKS_B)
    out = compare([tmp_path / "a", tmp_path / "b"], "eval_return", by="policy.name", task="env.n",
                  baseline="policy.name=a", curve="episode/return", out=tmp_path / "cmp", reps=1000, gap=10.0)
    assert out["tasks"] == ["env.n=50", "env.n=75"]
    a, b = out["groups"]["policy.name=a"], out["groups"]["policy.name=b"]
    assert a["runs"] == 8
    # IQM over all runs and tasks: 8 scores .0 .5 1 2 3 4 5 6, the middle half 1 2 3 4
    assert a["iqm"]["value"] == pytest.approx(2.5)
    assert b["iqm"]["value"] == pytest.approx(np.mean([3.0, 4.0, 5.0, 6.0]))  # 1 2 3 4 5 6 7 9
    assert a["mean"]["value"] == pytest.approx((10.0 + 11.5) / 8)
    # the median is over tasks of each task's mean: median(2.5, 2.875)
    assert a["median"]["value"] == pytest.approx((2.5 + 2.875) / 2)
    assert a["optimality_gap"]["value"] == pytest.approx(10.0 - (10.0 + 11.5) / 8)
    low, high = _hand_stratified_iqm_ci(TASKS_A)
    assert a["iqm"]["low"] == pytest.approx(low, abs=0.25) and a["iqm"]["high"] == pytest.approx(high, abs=0.25)
    # P(b > a): the per-task probabilities, averaged over tasks
    expected = np.mean([_hand_poi(TASKS_B[n], TASKS_A[n]) for n in (50, 75)])
    assert b["probability_of_improvement"]["value"] == pytest.approx(expected)

    per = b["per_task"]["env.n=50"]
    assert per["runs"] == 4 and sorted(per["scores"]) == TASKS_B[50]
    assert per["iqm"]["value"] == pytest.approx(4.5)  # 4 runs: the middle two, 4 and 5
    assert per["probability_of_improvement"]["value"] == pytest.approx(_hand_poi(TASKS_B[50], TASKS_A[50]))
    assert a["per_task"]["env.n=75"]["mean"]["value"] == pytest.approx(np.mean(TASKS_A[75]))

    # the learning curve is a (runs, tasks, steps) IQM: at the last step it is the score's IQM
    assert out["curves"]["policy.name=a"]["iqm"][-1] == pytest.approx(2.5, abs=1e-3)
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "tasks env.n=50, env.n=75 (stratified)" in table
    assert f"| env.n=50 | policy.name=b | 4 | {per['iqm']['value']:.3f} [" in table


def test_compare_tasks_need_as_many_runs_per_task(tmp_path):
    from intarsia.cli import main
    from intarsia.compare import compare
    from intarsia.errors import ConfigError

    _task_runs(tmp_path, "a", {50: [1.0, 2.0, 3.0], 75: [1.0, 2.0]})
    with pytest.raises(ConfigError, match="group 'a' needs as many runs on every task .runs per task: env.n=50: 3, "
                       "env.n=75: 2"):
        compare([tmp_path / "a"], "eval_return", task="env.n", reps=200)
    assert main(["compare", str(tmp_path / "a"), "--metric", "eval_return", "--task", "no.such.key"]) == 2

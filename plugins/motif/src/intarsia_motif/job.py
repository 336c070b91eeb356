"""The end-to-end Motif job (``job: motif-pipeline``).

    collect captions -> sample pairs -> annotate -> train the reward model -> train an agent -> report

Each stage writes its outputs into the run directory and a marker ``stages/<stage>.json`` when it is
complete; a rerun or ``intarsia resume RUN_DIR`` skips completed stages, continues the annotation log where
it stopped, and resumes the agent's training from its last checkpoint.

Run-directory layout::

    captions/              HF dataset of recorded steps (save_to_disk)
    pairs/                 HF dataset of sampled pairs (first, second, pair_id)
    annotations.jsonl      the main annotator's log (append-only, keyed by pair id)
    annotations_<kind>.jsonl   logs of the comparison annotators (agreement statistics)
    labelled_pairs/        HF dataset of pairs with labels (what the reward model trains on)
    reward_model.pt        the reward model (weights_only-loadable) + mean/std/quantiles
    agent/                 the core train job's run (config.yaml, logs/, checkpoints/, report.json)
    baseline/              same agent on the extrinsic reward alone (when ``baseline: true``)
    reward_terms.png, captions.png, report.json
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import PipelineConfig


def run_pipeline(config: PipelineConfig, *, run) -> dict:
    """The job factory: ``factory(config, *, run)`` -> report dict."""
    root = Path(run.dir)
    root.mkdir(parents=True, exist_ok=True)
    validate(config, root, run.stage_done, run.registry)
    collect = run.stage("collect", lambda: _collect(config, root))
    pairs_info = run.stage("pairs", lambda: _pairs(config, root))
    annotate = run.stage("annotate", lambda: _annotate(config, root))
    reward = run.stage("reward_model", lambda: _reward_model(config, root, run))
    agent = baseline = None
    if not config.skip_train:
        agent = run.stage("agent", lambda: _train_agent(config, root, run, "agent", with_motif=True))
        if config.baseline:
            baseline = run.stage("baseline", lambda: _train_agent(config, root, run, "baseline", with_motif=False))
    return _report(config, root, run, collect, pairs_info, annotate, reward, agent, baseline)


def validate(config: PipelineConfig, root: Path, stage_done: Callable[[str], dict | None], registry=None) -> None:
    """Check the sections of every stage still to run before the first one starts, so a typo in the LLM
    section or the agent's config fails in a second, not after the collect stage (each raises a one-line
    ``ConfigError`` naming the key). Sections of finished stages are not needed any more and not checked."""
    from intarsia.build import make_spec
    from intarsia.errors import ConfigError

    from .annotators import ANNOTATOR_KINDS

    if stage_done("collect") is None:
        make_spec("envs", dict(config.collect.env), registry=registry, path="collect.env")
        make_spec("policies", dict(config.collect.policy), registry=registry, path="collect.policy")
    for where, kind in [("annotator.kind", config.annotator.kind)] + [
            (f"compare_with.{i}", k) for i, k in enumerate(config.compare_with)]:
        if kind not in ANNOTATOR_KINDS:
            raise ConfigError(f"{where}: unknown annotator {kind!r}; choose one of {', '.join(ANNOTATOR_KINDS)}")
    if stage_done("annotate") is None and "llm" in [config.annotator.kind, *config.compare_with]:
        spec = make_spec("llms", dict(config.annotator.llm), registry=registry, path="annotator.llm")
        model_path = str(getattr(spec.config, "model_path", "") or "")
        if model_path and not Path(model_path).expanduser().exists():
            raise ConfigError(f"annotator.llm.model_path: {model_path!r} does not exist; give the path of a "
                              "model file or folder, or leave it empty for the backend's default model")
        from .judges import make_judge

        try:  # judge, few_shot, calibrate: checked without loading the model
            make_judge(None, config.annotator, lambda a, b: "")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if not config.skip_train:
        from intarsia.runner.api import prepare
        from intarsia.runner.fabric import refuse_nested_multiprocess, world_size

        # the reward model's fit on several processes: Lightning starts ranks >= 1 by re-running this job, so
        # they would run the agent stages too
        outer = world_size(config.fabric) if stage_done("reward_model") is None else 1
        for name, with_motif in (("agent", True), ("baseline", False)):
            if (name == "agent" or config.baseline) and stage_done(name) is None:
                raw = train_config(config, root, name, with_motif=with_motif)
                try:
                    prepare(raw, registry=registry)
                except ConfigError as exc:
                    raise ConfigError(f"train (the {name} stage's run): {exc}") from None
                # the stage is a run nested in this one: one process (train on several devices with
                # skip_train and a train run of its own on the reward model)
                refuse_nested_multiprocess(f"train.fabric (the {name} stage's run)", raw.get("fabric"), outer=outer)


# ----------------------------------------------------------------------------------------------------------
# stages
# ----------------------------------------------------------------------------------------------------------
def _collect(config: PipelineConfig, root: Path) -> dict:
    from .dataset import collect_captions, describe, save_dataset

    ds = collect_captions(config.collect)
    save_dataset(ds, root / "captions")
    return describe(ds)


def _pairs(config: PipelineConfig, root: Path) -> dict:
    from .dataset import load_dataset, sample_pairs, save_dataset

    captions = load_dataset(root / "captions")["caption"]
    ps = sample_pairs(captions, config.pairs)
    save_dataset(ps.to_dataset(), root / "pairs")
    ties = sum(a == b for a, b in zip(ps.first, ps.second))
    return {"pairs": len(ps), "identical_caption_ties": ties, "distinct_pairs_to_annotate": len(ps.unique)}


def _load_pairs(config: PipelineConfig, root: Path):
    from .dataset import load_dataset, pairset

    ds = load_dataset(root / "pairs")
    return pairset(list(ds["first"]), list(ds["second"]), list(ds["pair_id"]))


def _annotate(config: PipelineConfig, root: Path) -> dict:
    from datasets import Dataset

    from .annotators import AnnotationLog, agreement, annotate_pairs, make_annotator
    from .dataset import labelled_pairs, save_dataset

    ps = _load_pairs(config, root)
    env = config.collect.env
    main = make_annotator(config.annotator, env_section=env)
    stats = annotate_pairs(main, ps.unique, root / "annotations.jsonl", batch_size=config.annotator.batch_size,
                           on_batch=lambda done, total: print(f"[motif] annotated {done}/{total}", flush=True))
    if not stats["complete"]:
        raise RuntimeError("annotation stopped before every pair was labelled; rerun to continue")
    main_log = AnnotationLog(root / "annotations.jsonl")
    labels = main_log.labels()
    # few-shot example pairs carry the example's label, not the judge's: they are not part of its agreement
    judged = {pid: lab for pid, lab in labels.items() if not main_log.records[pid].get("few_shot")}
    out = {"annotator": config.annotator.kind, "stats": stats, "agreement": {}}
    for kind in config.compare_with:
        if kind == config.annotator.kind:
            continue
        try:
            other = make_annotator(config.annotator, env_section=env, kind=kind)
        except ValueError as exc:  # e.g. no oracle scores for this env
            out["agreement"][kind] = {"error": str(exc)}
            continue
        log = root / f"annotations_{kind}.jsonl"
        annotate_pairs(other, ps.unique, log, batch_size=max(64, config.annotator.batch_size))
        out["agreement"][kind] = agreement(judged, AnnotationLog(log).labels())
    rows = labelled_pairs(ps, labels)
    save_dataset(Dataset.from_dict(rows), root / "labelled_pairs")
    return out


def _reward_model(config: PipelineConfig, root: Path, run) -> dict:
    from .dataset import load_dataset
    from .reward_model import train_reward_model

    ds = load_dataset(root / "labelled_pairs")
    rows = {k: list(ds[k]) for k in ("first", "second", "pair_id", "label")}

    def trainer(**kwargs):  # the fit runs on the fabric: section, logs to logs/reward_model/, checkpoints in the store
        return run.trainer(config, name="reward_model", **kwargs)

    metrics = train_reward_model(rows, config.reward_model, root / "reward_model.pt", trainer=trainer, fit=run.fit,
                                 extra={"annotator": config.annotator.kind})
    return {"metrics": metrics, "path": str(root / "reward_model.pt"), "steps": metrics.get("optimizer_steps", 0)}


def train_config(config: PipelineConfig, root: Path, name: str, *, with_motif: bool) -> dict:
    """The core train job's raw config for the agent stage (the motif term appended to ``rewards``)."""
    raw = {"job": "train", "name": f"{config.name}-{name}", "seed": config.seed}
    raw.update({k: v for k, v in dict(config.train).items()})
    raw.setdefault("env", dict(config.collect.env))
    raw["job"] = "train"
    rewards = [dict(r) for r in raw.get("rewards", []) or []]
    if with_motif:
        device = reward_device(dict(raw.get("fabric", {}) or {}).get("accelerator", "auto"))
        rewards.append({"name": "motif", **dict(config.motif), "reward_model": str(root / "reward_model.pt"),
                        "device": device})
    raw["rewards"] = rewards
    log = dict(raw.get("log", {}) or {})
    log.setdefault("progress", False)
    raw["log"] = log
    return raw


def reward_device(accelerator: str) -> str:
    """The torch device the Motif term of an agent run on ``fabric.accelerator=accelerator`` scores captions on."""
    accelerator = str(accelerator)
    if accelerator in ("gpu", "cuda"):
        return "cuda"
    if accelerator == "mps":
        return "mps"
    if accelerator == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cpu"


def _train_agent(config: PipelineConfig, root: Path, run, name: str, *, with_motif: bool) -> dict:
    report = run.child(name, train_config(config, root, name, with_motif=with_motif))
    return {"report": report, "dir": str(root / name)}


# ----------------------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------------------
def read_curves(run_dir: Path) -> dict[str, list[tuple[float, float]]]:
    """Logged series of a core train run (``logs/metrics.csv``): name -> [(step, value)]."""
    import csv

    path = Path(run_dir) / "logs" / "metrics.csv"
    curves: dict[str, list[tuple[float, float]]] = {}
    if not path.exists():
        return curves
    with path.open() as fh:
        for row in csv.DictReader(fh):
            step = row.get("step")
            if step in (None, ""):
                continue
            for k, v in row.items():
                if k == "step" or v in (None, ""):
                    continue
                try:
                    curves.setdefault(k, []).append((float(step), float(v)))
                except ValueError:
                    pass
    return curves


def caption_rewards(root: Path, motif: dict) -> list[dict]:
    """Every distinct collected caption with its frequency, normalised reward and first-visit r_int."""
    import numpy as np

    from .dataset import caption_counts, load_dataset
    from .intrinsic import motif_transform
    from .reward_model import CaptionRewardModel

    counts = caption_counts(load_dataset(root / "captions"))
    model = CaptionRewardModel.load(root / "reward_model.pt")
    caps = sorted(counts)
    r = model.normalized(caps)
    eps = model.threshold(float(motif.get("threshold_quantile", 0.5)))
    r_int = motif_transform(r, np.ones(len(caps)), eps, float(motif.get("beta", 3.0)))
    rows = [{"caption": c, "count": counts[c], "r_norm": round(float(x), 4), "r_int_first": round(float(y), 4)}
            for c, x, y in zip(caps, r, r_int)]
    return sorted(rows, key=lambda d: -d["r_norm"])


def _report(config, root, run, collect, pairs_info, annotate, reward, agent, baseline) -> dict:
    captions = caption_rewards(root, dict(config.motif))
    k = config.top_k_captions
    sections: dict[str, Any] = {
        "collect": collect, "pairs": pairs_info,
        "annotation": annotate, "reward_model": reward.get("metrics", {}),
        "preference_accuracy": reward.get("metrics", {}).get("val_accuracy"),
        "highest_rewarded_captions": captions[:k],
        "lowest_rewarded_captions": list(reversed(captions[-k:])),
    }
    curves = {}
    if agent is not None:
        sections["agent"] = agent["report"]
        curves["motif"] = read_curves(Path(agent["dir"]))
    if baseline is not None:
        sections["baseline"] = baseline["report"]
        curves["extrinsic-only"] = read_curves(Path(baseline["dir"]))
    plots = []
    if curves:
        p = plot_reward_terms(curves, root / "reward_terms.png", config.name)
        if p:
            plots.append(p.name)
    p = plot_captions(captions, root / "captions.png", k)
    if p:
        plots.append(p.name)
    head, headline = headline_metrics(config, sections, captions)
    # the agents' env steps when they trained, else the reward model's optimizer steps
    agent_steps = sum(int((r or {}).get("steps", 0) or 0) for r in (sections.get("agent"), sections.get("baseline")))
    steps, unit = (agent_steps, "env steps") if agent_steps else (int(reward.get("steps", 0) or 0), "optimizer steps")
    meta = config.meta if hasattr(config.meta, "get") else {}
    # a recipe's caveat (meta.note) is printed right under the numbers it qualifies
    note = {"note": str(meta["note"])} if meta.get("note") else {}
    return run.report(steps=steps, unit=unit, metrics=headline, artifacts=plots + ["reward_model.pt"],
                      training={"stage_seconds": run.stage_seconds()}, **head, **note, **sections, plots=plots)


def headline_metrics(config, report: dict, captions: list[dict]) -> tuple[dict, dict]:
    """What a reader needs first: the judge's order consistency and kappa against the oracle, the reward model's
    caption ranking next to the oracle's, and the success rate of the agent with and without the Motif reward.
    Returns (everything, for the top of the report; the numbers among it, the report's ``metrics``)."""
    from .annotators import make_annotator

    agree = (report.get("annotation", {}).get("agreement", {}) or {}).get("oracle", {}) or {}
    head: dict[str, Any] = {
        "judge_order_consistency": report.get("annotation", {}).get("stats", {}).get("order_consistency"),
        "judge_kappa": agree.get("kappa"),
        "judge_kappa_symmetric": agree.get("kappa_symmetric"),
        "caption_ranking": " > ".join(r["caption"] or "<empty>" for r in captions),
    }
    try:
        oracle = make_annotator(config.annotator, env_section=config.collect.env, kind="oracle")
        scores = {r["caption"]: oracle.score(r["caption"]) for r in captions}
        ranked = sorted(scores, key=lambda c: -scores[c])
        text = ranked[0] or "<empty>" if ranked else ""
        for prev, cap in zip(ranked, ranked[1:]):
            text += (" = " if scores[cap] == scores[prev] else " > ") + (cap or "<empty>")
        head["oracle_ranking"] = text
        if len(captions) > 1:
            from scipy.stats import spearmanr

            head["caption_spearman"] = float(spearmanr([r["r_norm"] for r in captions],
                                                       [scores[r["caption"]] for r in captions])[0])
    except ValueError:  # an env without progress scores: no oracle ranking to show
        pass
    for key, run in (("success_motif", "agent"), ("success_extrinsic_only", "baseline")):
        metrics = (report.get(run) or {}).get("metrics", {}) if isinstance(report.get(run), dict) else {}
        # the final greedy evaluation when the train config has one, else the last 100 training episodes
        for name in ("eval_success", "success_rate"):
            if name in metrics:
                head[key] = metrics[name]
                break
    return head, {k: v for k, v in head.items() if not isinstance(v, str)}


def plot_reward_terms(curves: dict[str, dict], path: Path, title: str) -> Path | None:
    """One panel per series (each reward term's per-episode return, the env return, success), one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for c in curves.values() for k in c if k.startswith("reward/")})
    keys = [k for k in ("episode/return", "episode/success") if any(k in c for c in curves.values())] + keys
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, c in curves.items():
            if key in c:
                ax.plot([s for s, _ in c[key]], [v for _, v in c[key]], label=label)
        ax.set_title(key)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{title}: per-episode reward terms")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_captions(rows: list[dict], path: Path, k: int) -> Path | None:
    """Normalised reward of the highest and lowest rewarded captions."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = rows if len(rows) <= 2 * k else rows[:k] + rows[-k:]
    labels = [(r["caption"] or "<empty>")[:48] for r in shown]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(shown) + 1.2))
    ax.barh(range(len(shown)), [r["r_norm"] for r in shown], color=["tab:green" if r["r_int_first"] > 0 else "tab:gray" for r in shown])
    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("normalised reward (green: above the threshold)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

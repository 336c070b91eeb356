"""Throughput and latency of the LLM backends on Motif- and Raidar-sized prompts.

    .venv/bin/python benchmarks/llm_throughput.py [--threads 1 2] [--backend gguf] [-o key=value ...]

Motif-sized: a judge prompt (system text + two short captions, ~190 prompt tokens) answered by scoring
the options "1", "2", "None" (both orders per pair, as ``pairwise_option_probs`` asks) and by a 1-token
greedy generation. Raidar-sized: "Revise this with your best effort: <~100-word paragraph>" as a chat
prompt with up to 100 new tokens. The cache is off, so every request runs the model. Writes
``benchmarks/results/llm_throughput.json`` and a bar plot next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

SYSTEM = ("You are a careful and honest judge of progress in a text adventure game. You read short "
          "descriptions of what happened to a player and decide which one shows more progress towards "
          "winning. Progress means exploring new places, finding useful items, defeating monsters, going "
          "down stairs and staying alive. Ignore messages that only describe the interface.")
QUESTION = ("I will show you two short game messages.\n"
            "Message 1: \"{a}\"\nMessage 2: \"{b}\"\n"
            "Which message is more likely to come from a player making progress? "
            "Answer with 1, 2, or None if they are equally good.")
CAPTIONS = [
    ("You find a hidden passage.", "It's solid stone."),
    ("You kill the jackal!", "You hear some noises in the distance."),
    ("There is a staircase down here.", "You see no objects here."),
    ("You feel more experienced.", "Never mind."),
    ("You pick up a blessed scroll.", "The door is locked."),
    ("Welcome to experience level 3.", "You are hungry."),
]
PARAGRAPHS = [
    "The city council met on Tuesday to discuss the new budget proposal, which would increase funding for "
    "public parks and libraries while cutting administrative costs. Several residents spoke in favor of the "
    "plan, citing the need for more green spaces in the downtown area. Others expressed concern about the "
    "potential impact on city services. The council is expected to vote on the proposal next month after a "
    "series of public hearings, and the mayor said she was optimistic that a compromise could be reached.",
    "Researchers at the university have developed a new method for recycling plastic waste into fuel. The "
    "process uses a catalyst that breaks down common plastics at lower temperatures than existing methods, "
    "which could reduce energy costs significantly. The team tested the method on bottles, bags and food "
    "containers collected from local recycling centers. They say the technology could be ready for "
    "commercial use within five years if further tests confirm that it works at a larger industrial scale.",
    "The local football club celebrated its first championship in twenty years on Saturday after a dramatic "
    "final match that went to penalties. Thousands of fans gathered in the town square to watch the game on "
    "a giant screen. The team's captain, who scored the winning penalty, dedicated the victory to the "
    "supporters who had stayed loyal through many difficult seasons. The club plans a parade through the "
    "town center next weekend, and the mayor has promised to attend with members of the council.",
]


def judge(a: str, b: str):
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION.format(a=a, b=b)}]


def rewrite(text: str):
    return [{"role": "user", "content": f"Revise this with your best effort: {text}"}]


def measure(backend: str, options: dict) -> dict:
    from intarsia.build import build
    from intarsia_llm.pairwise import pairwise_option_probs

    start = time.perf_counter()
    llm = build("llms", backend, {"cache": False, "progress": False, **options})
    load_s = time.perf_counter() - start
    llm.generate(["Warm up:"], max_tokens=2)
    out: dict = {"backend": backend, "options": options, "model": llm.model_id, "load_s": load_s,
                 "template": getattr(llm.template, "name", None)}
    count = getattr(llm, "count_tokens", None)

    start, cpu = time.perf_counter(), time.process_time()
    probs = pairwise_option_probs(llm, judge, CAPTIONS, options=("1", "2", "None"))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    n_prompts = 2 * len(CAPTIONS)
    out["motif_option_scoring"] = {
        "pairs": len(CAPTIONS), "prompts": n_prompts, "seconds": elapsed,
        # CPU seconds per prompt: with one thread, what the wall time is on an otherwise idle core.
        "cpu_seconds_per_prompt": cpu / n_prompts,
        "seconds_per_prompt": elapsed / n_prompts, "seconds_per_pair_both_orders": elapsed / len(CAPTIONS),
        "prompt_tokens_mean": (sum(count(judge(a, b)) for a, b in CAPTIONS) / len(CAPTIONS)) if count else None,
        "mean_probs_first_second_none": probs.mean(axis=0).round(3).tolist()}

    prompts = [judge(a, b) for a, b in CAPTIONS]
    cpu = time.process_time()
    llm.generate(prompts, max_tokens=1)
    cpu = time.process_time() - cpu
    s = llm.last_stats
    out["motif_one_token_generation"] = {"prompts": s.requests, "seconds_per_prompt": s.seconds_per_request,
                                         "cpu_seconds_per_prompt": cpu / s.requests,
                                         "prompt_tokens_mean": s.prompt_tokens / s.requests}

    cpu = time.process_time()
    texts = llm.generate([rewrite(p) for p in PARAGRAPHS], max_tokens=100)
    cpu = time.process_time() - cpu
    s = llm.last_stats
    out["raidar_rewrite_100_tokens"] = {
        "prompts": s.requests, "seconds_per_prompt": s.seconds_per_request, "tokens_per_s": s.tokens_per_s,
        "cpu_seconds_per_prompt": cpu / s.requests, "tokens_per_cpu_s": s.completion_tokens / cpu,
        "completion_tokens_mean": s.completion_tokens / s.requests, "prompt_tokens_mean": s.prompt_tokens / s.requests,
        "example_output": texts[0][:300]}
    # Pure decoding speed: a plain-text prompt that will not stop early.
    cpu = time.process_time()
    llm.generate(["Once upon a time, in a small village by the sea,"], max_tokens=100)
    cpu = time.process_time() - cpu
    out["decode_tokens_per_s"] = llm.last_stats.tokens_per_s
    out["decode_tokens_per_cpu_s"] = llm.last_stats.completion_tokens / cpu
    if options.get("reuse_prefix") is None and backend == "gguf":
        # Motif's judge prompts share a long prefix: the same scoring with llama.cpp's KV prefix reuse.
        llm.config.reuse_prefix = True
        start = time.perf_counter()
        pairwise_option_probs(llm, judge, CAPTIONS, options=("1", "2", "None"))
        out["motif_option_scoring_reuse_prefix_seconds_per_prompt"] = (time.perf_counter() - start) / n_prompts
        llm.config.reuse_prefix = False
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="gguf")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="n_threads values (gguf)")
    parser.add_argument("-o", "--option", action="append", default=[], help="backend KEY=VALUE")
    parser.add_argument("--out", default=str(RESULTS / "llm_throughput.json"))
    args = parser.parse_args()
    import yaml

    options = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.option)}
    runs = []
    settings = [{**options, "n_threads": t} for t in args.threads] if args.backend == "gguf" else [options]
    for opts in settings:
        res = measure(args.backend, opts)
        runs.append(res)
        print(json.dumps(res, indent=2))
    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "load_avg_1m_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
              "runs": runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['backend']} {r['options'].get('n_threads', '')}t".strip() for r in runs]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].bar(labels, [r["motif_option_scoring"]["seconds_per_prompt"] for r in runs])
    axes[0].set_title("Motif judge: option scoring, s/prompt")
    axes[1].bar(labels, [r["raidar_rewrite_100_tokens"]["seconds_per_prompt"] for r in runs])
    axes[1].set_title("Raidar rewrite (≤100 tokens), s/prompt")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=100)
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()

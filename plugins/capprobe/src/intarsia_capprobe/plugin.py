"""Registrations of the capprobe plugin (hooks only; nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_kinds(register):
    register("analyses", singular="analysis", hookspec="intarsia_capprobe.hookspecs:register_analyses")


@hookimpl
def register_analyses(register):
    register("linear-probe", factory="intarsia_capprobe.probing:LinearProbe", config="intarsia_capprobe.config:ProbeConfig",
             summary="a linear probe per named module on the residual stream at the answer position")
    register("saliency-pruning", factory="intarsia_capprobe.pruning:SaliencyPruning",
             config="intarsia_capprobe.config:PruneConfig",
             summary="zero the top-K neurons by the signed weight x gradient score (one-shot), with K random neurons as control")
    register("exact-match", factory="intarsia_capprobe.accuracy:ExactMatch", config="intarsia_capprobe.config:AccuracyConfig",
             summary="exact-match accuracy of the answer token on named eval sets")
    register("attention-map", factory="intarsia_capprobe.attention:AttentionMap",
             config="intarsia_capprobe.attention:AttentionMapConfig",
             summary="attention mass from the answer position onto named token groups (e.g. the operands), per block and head")
    register("r2i-memory-probe", factory="intarsia_capprobe.r2i_probe:R2IMemoryProbe",
             config="intarsia_capprobe.r2i_probe:R2IProbeConfig",
             summary="per-layer probes of an R2I world model's SSM states for the memory cue (needs intarsia-r2i)")
    register("tinystories-probe", factory="intarsia_capprobe.tinystories:StoryFeatureProbe",
             config="intarsia_capprobe.tinystories:StoryProbeConfig",
             summary="per-layer probes of a causal LM for a TinyStories feature (e.g. a twist) in the story")


@hookimpl
def register_jobs(register):
    register("capprobe", factory="intarsia_capprobe.job:run_capprobe", config="intarsia_capprobe.config:CapprobeConfig",
             summary="pre-train -> fine-tune -> probes/pruning -> reverse fine-tune -> from scratch (Jain et al., ICLR 2024)")


@hookimpl
def register_recipes(register):
    register("capprobe/counter", file=RECIPES / "counter.yaml",
             summary="Tracr-style counter: count a, fine-tune to count b with a spurious correlation (CPU, minutes)")
    register("capprobe/pcfg", file=RECIPES / "pcfg.yaml",
             summary="PCFG counting/index tasks with operand priors, the same protocol (CPU, minutes)")
    register("capprobe/maxid", file=RECIPES / "maxid.yaml",
             summary="max identifier: name the largest letter, fine-tune to name the smallest (CPU; not measured)")
    register("capprobe/counter-gpu", file=RECIPES / "counter_gpu.yaml",
             summary="the counter protocol with a wider, deeper model and longer strings (GPU)")
    register("capprobe/pcfg-gpu", file=RECIPES / "pcfg_gpu.yaml",
             summary="the PCFG protocol with a wider, deeper model, longer strings and the full grid (GPU)")


@hookimpl
def register_commands(cli):
    from .cli import add_commands  # click only; the command bodies import the heavy parts

    add_commands(cli)

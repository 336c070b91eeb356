"""Registrations of the GFlowNet plugin (hooks only; nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_kinds(register):
    register("samplers", singular="sampler", hookspec="intarsia_gfn.hookspecs:register_samplers")


@hookimpl
def register_samplers(register):
    register("gflownet", factory="intarsia_gfn.gflownet:GFlowNet", config="intarsia_gfn.config:GFlowNetConfig",
             summary="GFlowNet on a discrete DAG trained with TB, DB or SubTB(lambda), with exact DP evaluation")
    register("ocgfn", factory="intarsia_gfn.ocgfn:OutcomeConditionedGFlowNet", config="intarsia_gfn.config:OCGFNConfig",
             summary="Reward-free outcome-conditioned GFlowNet pre-training (OC-GFN, Pan et al., ICLR 2024)")
    register("ocgfn-finetune", factory="intarsia_gfn.finetune:AmortizedFinetune",
             config="intarsia_gfn.config:FinetuneConfig",
             summary="Fine-tune a frozen OC-GFN to a new reward with the amortized numerator + outcome sampler")
    register("mcmc", factory="intarsia_gfn.mcmc:MetropolisHastings", config="intarsia_gfn.config:MCMCConfig",
             summary="Metropolis-Hastings over terminal objects (a from-scratch baseline for fine-tuning)")
    register("dqn", factory="intarsia_gfn.dqn:DQN", config="intarsia_gfn.config:DQNConfig",
             summary="DQN on the DAG as an MDP rewarded R(x) at the exit (an RL baseline for fine-tuning)")


@hookimpl
def register_jobs(register):
    register("gfn", factory="intarsia_gfn.job:run_gfn", config="intarsia_gfn.config:GFNJobConfig",
             summary="Train a sampler on Lightning Fabric: iterations, exact evaluation, checkpoints, report, heat map")


@hookimpl
def register_recipes(register):
    register("gfn/hypergrid-tb", file=RECIPES / "hypergrid_tb.yaml",
             summary="TB on HyperGrid 2D H=8 (CPU, a few minutes; sum-L1 <= 0.05)")
    register("gfn/bitseq-tb", file=RECIPES / "bitseq_tb.yaml",
             summary="TB on 12-bit sequences built 2 bits at a time, 8 modes (CPU, about 2 minutes; sum-L1 <= 0.08)")
    register("gfn/hypergrid-tb-gpu", file=RECIPES / "hypergrid_tb_gpu.yaml",
             summary="TB on HyperGrid 4D H=8, batch 2048 (GPU-sized)")
    register("gfn/ocgfn-pretrain", file=RECIPES / "ocgfn_pretrain.yaml",
             summary="OC-GFN reward-free pre-training on a 2D H=6 grid (CPU; success rate >= 0.9)")
    register("gfn/ocgfn-finetune", file=RECIPES / "ocgfn_finetune.yaml",
             summary="OC-GFN pre-training then amortized fine-tuning to a new reward on a 2D H=6 grid (CPU)")
    register("gfn/ocgfn-pretrain-gpu", file=RECIPES / "ocgfn_pretrain_gpu.yaml",
             summary="OC-GFN pre-training on a 2D H=16 grid (GPU-sized)")
    register("gfn/ocgfn-finetune-gpu", file=RECIPES / "ocgfn_finetune_gpu.yaml",
             summary="OC-GFN pre-training + amortized fine-tuning on a 2D H=16 grid (GPU-sized)")

"""Registrations of the CRL plugin (hooks only; nothing heavy is imported here)."""

from __future__ import annotations

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_encoders(register):
    register("crl-slots", factory="intarsia_crl.encoders:slot_encoder", config="intarsia_crl.config:EncoderConfig",
             summary="Slot Attention / SA-MESH slot encoder: images -> (num_slots, slot_dim); checkpoint= a crl run's encoder.pt")
    register("crl-flat", factory="intarsia_crl.encoders:flat_encoder", config="intarsia_crl.config:EncoderConfig",
             summary="Flat CNN encoder: images -> one latent vector (the CRL baseline); checkpoint= a crl run's encoder.pt")


@hookimpl
def register_jobs(register):
    register("crl", factory="intarsia_crl.job:run_crl", config="intarsia_crl.config:CRLJobConfig",
             summary="Object-centric CRL: sprite pairs -> encoder trained on sparse perturbations -> MCC / R²")


@hookimpl
def register_recipes(register):
    register("crl/balls-slots", file=RECIPES / "balls_slots.yaml",
             summary="Two stages (slot auto-encoder, then the sparse-perturbation fine-tune) on 2 identical balls, {x, y}, 32 px, CPU")
    register("crl/balls3-slots", file=RECIPES / "balls3_slots.yaml",
             summary="The same two stages on 3 identical balls, {x, y}, 32 px, CPU")
    register("crl/balls4-slots", file=RECIPES / "balls4_slots.yaml",
             summary="The same two stages on 4 identical balls, {x, y}, 32 px, CPU")
    register("crl/balls-flat", file=RECIPES / "balls_flat.yaml",
             summary="Flat CNN baseline on the same non-injective 2 balls: fails to identify the objects' x, y")
    register("crl/balls3-flat", file=RECIPES / "balls3_flat.yaml",
             summary="Flat CNN baseline on 3 identical balls")
    register("crl/balls4-flat", file=RECIPES / "balls4_flat.yaml",
             summary="Flat CNN baseline on 4 identical balls")
    register("crl/balls-flat-injective", file=RECIPES / "balls_flat_injective.yaml",
             summary="Flat CNN baseline with one palette colour per ball (injective): works")
    register("crl/balls4-efficiency-flat", file=RECIPES / "balls4_efficiency_flat.yaml",
             summary="Data efficiency (official): injective-by-size flat CNN on 4 balls, {x, y, colour, shape}, 100-500 pairs")
    register("crl/balls4-efficiency-slots", file=RECIPES / "balls4_efficiency_slots.yaml",
             summary="Data efficiency (official): the two-stage slot model on the same data, 1,000-10,000 pairs")
    register("crl/balls-slots-gpu", file=RECIPES / "balls_slots_gpu.yaml",
             summary="Official size (GPU): SA-MESH at 128 px, slot size 64, two stages as run_train_balls.sh, 2 balls, {x, y}")
    register("crl/balls3-slots-gpu", file=RECIPES / "balls3_slots_gpu.yaml",
             summary="Official size (GPU): as crl/balls-slots-gpu with 3 balls")
    register("crl/balls4-slots-gpu", file=RECIPES / "balls4_slots_gpu.yaml",
             summary="Official size (GPU): as crl/balls-slots-gpu with 4 balls")
    register("crl/balls-flat-gpu", file=RECIPES / "balls_flat_gpu.yaml",
             summary="Official size (GPU): the flat ResNet-18 baseline on the data of crl/balls-slots-gpu")

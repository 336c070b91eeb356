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
             summary="SA-MESH slot auto-encoder on 2 identical balls (non-injective), {x, y}, 32 px, CPU (~14 min)")
    register("crl/balls-flat", file=RECIPES / "balls_flat.yaml",
             summary="Flat CNN baseline on the same non-injective balls: fails to identify the objects' x, y")
    register("crl/balls-flat-injective", file=RECIPES / "balls_flat_injective.yaml",
             summary="Flat CNN baseline with one colour per ball (injective): works")
    register("crl/balls-slots-gpu", file=RECIPES / "balls_slots_gpu.yaml",
             summary="Paper size: SA-MESH slots, 64 px, 3 balls, all six properties, 10k pairs, 200 epochs (GPU)")
    register("crl/balls-flat-gpu", file=RECIPES / "balls_flat_gpu.yaml",
             summary="Paper size: flat encoder on the same data as crl/balls-slots-gpu (GPU)")

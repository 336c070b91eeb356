"""The ``crl`` job end to end through the runner: CI-sized learning runs, the report, the encoder file."""

from __future__ import annotations

import json

import pytest
import torch
from intarsia.errors import ConfigError
from intarsia.runner.api import run_config
from intarsia_crl import plugin

ISSUE_KEYS = {"mcc", "mcc_spearman", "r2", "mcc_x", "mcc_y", "r2_x", "r2_y"}
SLOT_KEYS = ISSUE_KEYS | {"mcc_perturbed", "r2_perturbed", "ari", "fg_ari"}


def tiny(encoder: str, **over) -> dict:
    cfg = {
        "job": "crl", "name": f"tiny-{encoder}", "seed": 0,
        "sprites": {"num_objects": 2, "properties": ["x", "y"], "image_size": 16, "injective": True,
                    "num_pairs": 1000, "val_pairs": 300, "radius_range": [0.1, 0.14]},
        "model": {"encoder": encoder, "hidden_dim": 16, "slot_dim": 16, "cnn_layers": 2, "cnn_stride": 2,
                  "kernel_size": 3, "flat_width": 64, "decoder": False, "slot_attention": "softmax"},
        "loss": {"w_recon": 0.0},
        "train": {"epochs": 1, "batch_size": 32, "lr": 2e-3},
        "fabric": {"accelerator": "cpu"}, "cpu_threads": 1,
        "plots": False,
    }
    for key, value in over.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    return cfg


def test_a_short_flat_run_beats_its_untrained_encoder_and_reports_the_issue_metrics(intarsia_host, tmp_path):
    from intarsia.runner.api import prepare
    from intarsia_crl.metrics import mcc
    from intarsia_crl.sprites import make_pairs, to_tensors
    from intarsia_crl.training import CRLModule, read_latents

    intarsia_host(plugin)
    cfg = tiny("flat", train={"epochs": 5}, plots=True)
    trained = run_config(cfg, run_dir=tmp_path / "t")
    _, _, config = prepare(cfg)  # the same encoder, untrained, on the same held-out pairs
    torch.manual_seed(config.seed)
    lat = read_latents(CRLModule(config), to_tensors(make_pairs(config.sprites, config.sprites.val_pairs, config.seed + 1)))
    untrained = mcc(lat["true"], lat["learned"])
    assert set(trained["metrics"]) == ISSUE_KEYS
    assert untrained < 0.5
    assert trained["metrics"]["mcc"] > 0.8 and trained["metrics"]["mcc"] > untrained + 0.3
    assert json.loads((tmp_path / "t" / "report.json").read_text())["metrics"] == pytest.approx(trained["metrics"])
    assert (tmp_path / "t" / "latents.png").exists()


@pytest.mark.slow
def test_a_short_slot_run_beats_its_untrained_encoder(intarsia_host, tmp_path):
    """The slot pipeline learns at CI size: softmax Slot Attention + decoder on identical (non-injective) balls,
    16 px, 1000 pairs, 20 epochs, one stage (125 s on the 2-core CPU at load average ~20). The perturbed-slot
    MCC: it shows the slots learn, not that they identify the balls; that is the slow recipe test below."""
    from intarsia.runner.api import prepare
    from intarsia_crl.metrics import mcc
    from intarsia_crl.sprites import make_pairs, to_tensors
    from intarsia_crl.training import CRLModule, read_latents

    intarsia_host(plugin)
    cfg = tiny("slots", sprites={"injective": False}, train={"epochs": 20},
               model={"slot_attention": "softmax", "decoder": True, "decoder_init_size": 4, "recon_downsample": 2},
               loss={"w_recon": 10.0, "w_similarity": 100.0, "share_slot_init": False})
    trained = run_config(cfg, run_dir=tmp_path / "t")
    _, _, config = prepare(cfg)  # the same encoder, untrained, on the same held-out pairs
    torch.manual_seed(config.seed)
    lat = read_latents(CRLModule(config), to_tensors(make_pairs(config.sprites, config.sprites.val_pairs, config.seed + 1)))
    untrained = mcc(lat["true_perturbed"], lat["learned_perturbed"])
    assert set(trained["metrics"]) == SLOT_KEYS and trained["steps"] == 640
    assert untrained < 0.3
    got = trained["metrics"]["mcc_perturbed"]
    # with the official renderer (squares at value 0.6, fixed offsets) seed 0 reached 0.320 from 0.071 (it was 0.624
    # with bright circles and uniform offsets)
    assert got > untrained + 0.15


def test_a_slot_run_writes_an_encoder_that_builds_by_name(intarsia_host, tmp_path):
    from intarsia.build import build

    intarsia_host(plugin)
    report = run_config(tiny("slots", sprites={"num_pairs": 64, "val_pairs": 32}, plots=True,
                             model={"slot_attention": "mesh", "decoder": True, "decoder_init_size": 4,
                                    "recon_downsample": 2}, loss={"w_recon": 10.0}),
                        run_dir=tmp_path / "t")
    assert set(report["metrics"]) == SLOT_KEYS and report["steps"] == 2
    assert (tmp_path / "t" / "slots.png").exists() and (tmp_path / "t" / "latents.png").exists()
    enc = build("encoders", "crl-slots", {"checkpoint": str(tmp_path / "t" / "encoder.pt")})
    with torch.no_grad():
        out = enc(torch.rand(3, 3, 16, 16))
    assert out.shape == (3, 3, 16)
    with pytest.raises(ConfigError, match="holds a slots encoder"):
        build("encoders", "crl-flat", {"checkpoint": str(tmp_path / "t" / "encoder.pt")})


def test_bad_config_values_are_one_line_errors(intarsia_host, tmp_path):
    intarsia_host(plugin)
    with pytest.raises(ConfigError, match="sprites.properties"):
        run_config(tiny("slots", sprites={"properties": ["x", "colour"]}), run_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match="model.encoder"):
        run_config(tiny("set"), run_dir=tmp_path / "b")
    with pytest.raises(ConfigError, match="loss.matching"):
        run_config(tiny("slots", loss={"matching": "greedy"}), run_dir=tmp_path / "c")


TWO_STAGE = {"model": {"slot_attention": "softmax", "decoder": True, "decoder_init_size": 4, "recon_downsample": 2},
             "sprites": {"injective": False, "num_pairs": 128, "val_pairs": 32},
             "pretrain": {"epochs": 2, "batch_size": 32, "lr": 1e-3},
             "loss": {"matching": "argmin", "matching_cost": "changed", "mechanism": "unknown", "pair_recon": True,
                      "w_recon": 100.0, "w_similarity": 0.0},
             "train": {"epochs": 1, "batch_size": 32, "lr": 2e-4}}


def test_two_stages_run_as_resumable_stages_and_a_fine_tune_starts_from_init_from(intarsia_host, tmp_path):
    from intarsia.runner.api import resume_run
    from intarsia.safe_load import load_torch_file

    intarsia_host(plugin)
    report = run_config(tiny("slots", **TWO_STAGE), run_dir=tmp_path / "a")
    stages = report["training"]["stages"]
    assert set(stages) == {"autoencoder", "finetune"} and stages["autoencoder"]["steps"] == 8
    assert -1 <= stages["autoencoder"]["ari"] <= 1 and set(report["metrics"]) == SLOT_KEYS
    assert report["steps"] == 4  # the fine-tune's steps
    for name in ("autoencoder.pt", "model.pt", "encoder.pt", "stages/autoencoder.json", "stages/finetune.json",
                 "checkpoints/autoencoder/latest.json", "checkpoints/finetune/latest.json"):
        assert (tmp_path / "a" / name).is_file(), name
    stage1 = load_torch_file(tmp_path / "a" / "autoencoder.pt")["state"]
    final = load_torch_file(tmp_path / "a" / "model.pt")["state"]
    assert any(not torch.equal(stage1[k], final[k]) for k in stage1)  # the fine-tune moved the weights

    # a resume of the finished stages runs neither fit again and reports the same numbers
    (tmp_path / "a" / "report.json").unlink()
    again = resume_run(tmp_path / "a")
    assert again["metrics"] == pytest.approx(report["metrics"]) and again["training"]["stages"] == stages

    # a fine-tune from the first run's auto-encoder: no stage 1 of its own, the same starting weights
    cfg = tiny("slots", **{**TWO_STAGE, "pretrain": {"epochs": 0}}, init_from=str(tmp_path / "a"))
    other = run_config(cfg, run_dir=tmp_path / "b")
    assert set(other["training"]["stages"]) == {"finetune"}
    assert other["training"]["init_from"] == str(tmp_path / "a" / "autoencoder.pt")
    with pytest.raises(ConfigError, match="init_from"):
        run_config({**cfg, "init_from": str(tmp_path / "nothing")}, run_dir=tmp_path / "c")
    with pytest.raises(ConfigError, match="does not fit"):
        run_config(tiny("slots", **{**TWO_STAGE, "pretrain": {"epochs": 0}, "model": {**TWO_STAGE["model"], "slot_dim": 8}},
                        init_from=str(tmp_path / "a")), run_dir=tmp_path / "d")


@pytest.mark.slow
def test_the_cpu_recipes_reproduce_the_slots_vs_flat_gap(intarsia_host, tmp_path):
    """The issue's claim with the recipes as shipped: on identical balls the slot encoder's all-balls MCC is
    >= 0.8, at least 0.2 above the flat encoder. Not yet run with the two-stage 2-ball recipe (README,
    "Measured here" and "Not done yet": at 3 balls stage 1 did not segment the balls in its time)."""
    intarsia_host(plugin)
    slots = run_config("crl/balls-slots", ["plots=false", "train.eval_every=0"], run_dir=tmp_path / "slots")
    flat = run_config("crl/balls-flat", ["plots=false"], run_dir=tmp_path / "flat")
    assert slots["metrics"]["mcc"] >= 0.8
    assert slots["metrics"]["mcc"] >= flat["metrics"]["mcc"] + 0.2

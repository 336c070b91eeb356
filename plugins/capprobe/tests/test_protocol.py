"""The paper's fine-tuning protocol: named LRs (η_S, η_M, η_L as ratios to η_PT), a cosine schedule with 20 %
warm-up, and reverse fine-tuning at the fine-tuning LR or below (Scr.+FT at the same settings)."""

from __future__ import annotations

import math

import pytest
from intarsia.errors import ConfigError
from intarsia.runner.api import prepare
from intarsia_capprobe.config import CapprobeConfig, StageConfig
from intarsia_capprobe.job import stage_lr, sweep_lrs
from intarsia_capprobe.training import lr_factor, warmup_steps

RECIPES = ("capprobe/counter", "capprobe/pcfg", "capprobe/counter-gpu", "capprobe/pcfg-gpu")


def test_the_named_lrs_are_the_papers_ratios_to_pretraining():
    cfg = CapprobeConfig()
    pt = cfg.pretrain.lr
    assert {k: round(v * pt, 12) for k, v in cfg.lr_levels.items()} == {"L": pt / 10, "M": pt / 100, "S": pt / 1000}
    assert stage_lr(cfg, cfg.finetune, finetuning=True) == pytest.approx(pt / 10)  # the default is η_L
    assert stage_lr(cfg, StageConfig(lr_level="M"), finetuning=True) == pytest.approx(pt / 100)
    assert stage_lr(cfg, StageConfig(lr_ratio=0.5), finetuning=True) == pytest.approx(pt / 2)  # no level: the ratio
    assert stage_lr(cfg, StageConfig(lr=3e-4)) == 3e-4


def test_fine_tuning_warms_up_for_a_fifth_of_its_steps_then_decays_as_a_cosine():
    cfg = CapprobeConfig()
    ft = cfg.finetune
    assert (ft.schedule, ft.warmup_fraction) == ("cosine", 0.2)
    stage = StageConfig(steps=100, schedule="cosine", warmup_fraction=0.2)
    assert warmup_steps(stage) == 20
    assert lr_factor(0, stage) == pytest.approx(1 / 20)
    assert lr_factor(19, stage) == pytest.approx(1.0)
    assert lr_factor(60, stage) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(100, stage) == pytest.approx(0.0, abs=1e-12)
    flat = StageConfig(steps=100, warmup=10)
    assert [lr_factor(s, flat) for s in (9, 50, 99)] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("recipe", RECIPES)
def test_each_recipe_fine_tunes_at_a_named_lr_with_the_schedule_and_reverses_at_or_below_it(recipe):
    _, _, cfg = prepare(recipe)
    assert cfg.finetune.lr_level in cfg.lr_levels
    assert (cfg.finetune.schedule, cfg.finetune.warmup_fraction) == ("cosine", 0.2)
    assert stage_lr(cfg, cfg.reverse) <= stage_lr(cfg, cfg.finetune, finetuning=True)


def test_the_grid_takes_named_lrs():
    _, _, cfg = prepare("capprobe/counter")
    assert sweep_lrs(cfg) == [("M", 0.01), ("L", 0.1)]


def test_an_unknown_lr_level_is_one_line(tmp_path):
    from intarsia.runner.api import run_config

    with pytest.raises(ConfigError, match="finetune: unknown lr_level 'XL'"):
        run_config({"extends": "capprobe/counter", "finetune": {"lr_level": "XL"}}, run_dir=tmp_path / "run")

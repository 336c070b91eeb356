"""The typical mistakes each give one line on stderr naming the key and the problem, and exit status 2."""

from __future__ import annotations

import pytest
from intarsia.cli import main


def _run(capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err.strip()
    return rc, err


@pytest.mark.parametrize(("override", "expected"), [
    ("env.n=-3", "env.n: must be >= 3"),
    ("policy.hidden_sizes=[-4]", "policy.hidden_sizes: must be > 0"),
    ("policy.buffer_size=-1", "policy.buffer_size: must be > 0"),
    ("policy.hidden_sizes=64", "policy.hidden_sizes: expected a list"),
    ("policy.batch_size=0", "policy.batch_size: must be > 0"),
    ("policy.lr=nan", "policy.lr: must be a finite number"),
    ("extrinsic_coef=inf", "extrinsic_coef: must be a finite number"),
    ("steps=100000000000000000000000", "steps: must be <= 1e+12"),
    ("num_envs=100000000000", "num_envs: must be <= 100000"),
])
def test_a_bad_value_is_one_line(capsys, tmp_path, override, expected):
    rc, err = _run(capsys, "run", "lmcdqn/nchain", "steps=20", f"log.dir={tmp_path}", override)
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {expected}"), err
    assert "Node" not in err and "ListConfig" not in err  # no omegaconf internals


def test_a_value_refused_while_building_names_its_section(capsys, tmp_path):
    """The config accepts it (a list of ints); the env's constructor refuses it with a ValueError."""
    config = tmp_path / "chain.yaml"
    config.write_text("env: {name: DiscountingChain-v0, reward_delays: [1, 3, 10, 30, 200]}\n"
                      "policy: random\nsteps: 20\n", encoding="utf-8")
    rc, err = _run(capsys, "run", str(config), f"log.dir={tmp_path}")
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert err == "error: env: reward delays must be <= 100", err


def test_motif_without_a_reward_model_says_which_file_and_how_to_make_it(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the recipe's default reward_model.pt is relative: make sure it is absent
    rc, err = _run(capsys, "run", "motif/grid-ppo", "steps=16", "num_envs=1", f"log.dir={tmp_path}")
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert "rewards.0.reward_model: no file 'reward_model.pt'" in err and "intarsia run motif/demo" in err


def test_hc_explain_on_another_agents_run_says_so(capsys, tmp_path):
    run_dir = tmp_path / "lmc"
    assert main(["run", "lmcdqn/nchain", "steps=40", "log.every=20", "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    rc, err = _run(capsys, "hc", "explain", str(run_dir))
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert "policy 'lmcdqn', not of an hc agent" in err


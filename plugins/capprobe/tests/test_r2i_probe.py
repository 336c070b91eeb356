"""The probe analysis on another plugin's model: an R2I world model checkpoint from a tiny run."""

import pytest

pytest.importorskip("intarsia_r2i")


def test_memory_probe_on_a_tiny_r2i_checkpoint(tmp_path):
    from intarsia.runner.api import run_config
    from intarsia_capprobe.r2i_probe import R2IMemoryProbe, R2IProbeConfig, load_r2i_checkpoint

    run_dir = tmp_path / "r2i"
    run_config({"extends": "r2i/tiny", "steps": 60, "checkpoint": {"every": 60}}, run_dir=run_dir)
    agent, env_factory = load_r2i_checkpoint(run_dir)
    out = R2IMemoryProbe(R2IProbeConfig(episodes=60)).run(agent, env_factory)
    m = out["metrics"]
    assert {"memory_probe/ssm.0@query", "memory_probe/deter@query", "memory_probe/posterior@query",
            "memory_probe/chance"} <= set(m)
    curves = out["curves"]
    assert all(len(c) == 4 for c in curves.values())  # t = 0 .. L (L = 3)
    # at the cue step the cue is in the observation, so its posterior reads it whatever the training ...
    assert curves["posterior"][0] > 0.9
    # ... while the SSM states have not seen it yet (they read the previous step's latent): ~chance
    assert curves["ssm.0"][0] < 0.75 and curves["deter"][0] < 0.75
    assert "memory_probe" in out["figures"]


def test_a_non_r2i_run_is_refused(tmp_path):
    from intarsia.errors import IntarsiaError
    from intarsia_capprobe.r2i_probe import load_r2i_checkpoint

    with pytest.raises(IntarsiaError, match="not a run directory"):
        load_r2i_checkpoint(tmp_path)

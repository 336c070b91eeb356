"""The command line: fast start-up, plugin listing with errors, strict mode, one-line user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

CLI = [sys.executable, "-m", "intarsia.cli"]


def _run(args, env=None, **kw):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300, **kw)


def test_help_and_plugins_do_not_import_torch_lightning_or_plugin_internals():
    code = textwrap.dedent("""
        import sys, time, contextlib, io
        from intarsia.cli import main
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            main(["--help"]); main(["plugins"]); main(["list"]); main(["recipes"])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "lightning", "datasets", "sklearn", "matplotlib"})
        # a plugin's hooks module, the hook specs of kinds it declares and its command definitions are its
        # surface; anything else is internals
        internals = sorted(m for m in sys.modules if m.startswith("intarsia_") and "." in m
                           and m.rsplit(".", 1)[1] not in {"plugin", "hookspecs", "cli", "commands"})
        print(heavy, internals, time.perf_counter() - t)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("[] [] "), out.stdout
    assert float(out.stdout.split()[-1]) < 5.0


def _broken_site(tmp_path):
    """A site folder holding an installed-looking distribution whose plugin raises on import."""
    site = tmp_path / "site"
    pkg = site / "intarsia_brokenplug"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    dist = site / "intarsia_brokenplug-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: intarsia-brokenplug\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[intarsia]\nbrokenplug = intarsia_brokenplug.plugin\n")
    return {"PYTHONPATH": str(site), "INTARSIA_LOAD_PLUGINS": "brokenplug"}


def test_a_broken_plugin_is_listed_with_its_error_and_other_commands_work(tmp_path):
    env = _broken_site(tmp_path)
    out = _run(["plugins", "--json"], env)
    assert out.returncode == 0
    rows = {r["distribution"]: r for r in json.loads(out.stdout)}
    assert "broken on purpose" in rows["intarsia-brokenplug"]["error"]
    assert _run(["recipes"], env).returncode == 0
    table = _run(["plugins"], env)
    assert "intarsia-brokenplug" in table.stdout and "failed to load" in table.stdout


def test_strict_mode_exits_non_zero_naming_the_plugin(tmp_path):
    env = {**_broken_site(tmp_path), "INTARSIA_STRICT_PLUGINS": "1"}
    out = _run(["plugins"], env)
    assert out.returncode != 0
    assert "brokenplug" in out.stderr and "broken on purpose" in out.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "builtin/qlearning-grid", "policy.lrr=3"], "policy.lrr: unknown key. Did you mean 'lr'?"),
    (["run", "no/such-recipe"], "is neither a recipe nor a YAML file"),
    (["run", "builtin/qlearning-grid", "policy.name=dqnn"], "unknown policy 'dqnn'"),
    (["resume", "/nonexistent/run"], "is not a run directory"),
    (["list", "polices"], "Did you mean 'policies'"),
])
def test_user_mistakes_are_one_line_errors(args, message):
    out = _run(args, {"INTARSIA_LOAD_PLUGINS": ""})
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_debug_shows_the_traceback():
    out = _run(["--debug", "run", "no/such-recipe"], {"INTARSIA_LOAD_PLUGINS": ""})
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_version_and_show_config():
    assert _run(["--version"]).stdout.strip().endswith("0.1.0")
    out = _run(["run", "builtin/qlearning-grid", "steps=123", "--show-config"], {"INTARSIA_LOAD_PLUGINS": ""})
    assert out.returncode == 0 and "steps: 123" in out.stdout


def test_new_plugin_refuses_to_overwrite(tmp_path):
    assert _run(["new-plugin", "x1", "--dir", str(tmp_path)]).returncode == 0
    out = _run(["new-plugin", "x1", "--dir", str(tmp_path)])
    assert out.returncode == 2 and "already exists" in out.stderr
    assert _run(["new-plugin", "Bad Name!", "--dir", str(tmp_path)]).returncode == 2


def test_gymnasium_make_reaches_registered_envs():
    import gymnasium
    import intarsia.envs  # noqa: F401  (registers every intarsia env with gymnasium)

    env = gymnasium.make("intarsia/CaptionedGrid-v0", size=6)
    obs, info = env.reset(seed=0)
    assert obs.shape == (6 * 6 + 2,) and info["caption"] == ""

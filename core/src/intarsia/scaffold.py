"""``intarsia new-plugin NAME``: a plugin package that installs, registers one reward and one recipe, tests
itself with the conformance classes, and has a CI workflow."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import IntarsiaError

_PYPROJECT = '''[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "intarsia-{name}"
version = "0.1.0"
description = "An intarsia plugin: {name}"
readme = "README.md"
requires-python = ">=3.10"
# intarsia-core keeps the hook API stable within a minor series (0.1.x); a minor release (0.2) may change
# it, so plugins cap the next minor. The policy: "Compatibility" in intarsia's docs/writing-plugins.md.
dependencies = ["intarsia-core>=0.1,<0.2", "numpy>=1.24"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

# This line is what makes intarsia find the plugin once the package is installed.
[project.entry-points.intarsia]
{name} = "{module}.plugin"

[tool.setuptools.packages.find]
where = ["src"]

# recipes ship inside the package, so `intarsia run {name}/example` works after any install
[tool.setuptools.package-data]
{module} = ["recipes/*.yaml"]
'''

_PLUGIN = '''"""Hook implementations of intarsia-{name}. Keep this module cheap to import: registrations name
factories as "module:attr" strings, imported only when a run builds the component."""

from pathlib import Path

from intarsia import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_rewards(register):
    register(
        "{name}-step-penalty",
        factory="{module}.reward:StepPenalty",
        config="{module}.reward:StepPenaltyConfig",
        summary="A small cost per step, to prefer short episodes",
    )


@hookimpl
def register_recipes(register):
    register("{name}/example", file=RECIPES / "example.yaml",
             summary="The core's tiny Q-learning preset with the step penalty composed in")
'''

_REWARD = '''"""A reward term: a constant cost per step (replace with your method)."""

from dataclasses import dataclass

import numpy as np


@dataclass
class StepPenaltyConfig:
    cost: float = 0.01
    """cost subtracted on every step"""


class StepPenalty:
    requires = frozenset()  # the Transitions fields this term reads

    def __init__(self, config: StepPenaltyConfig, *, env_spec=None):
        self.cost = float(config.cost)

    def __call__(self, batch):
        return np.full(batch.num_envs, -self.cost, dtype=np.float32)

    def reset(self):
        pass

    def state_dict(self):
        return {{}}

    def load_state_dict(self, state):
        pass
'''

_TEST = '''import numpy as np

from intarsia.testing import PluginContract, RewardContract, random_transitions
from {module} import plugin
from {module}.reward import StepPenalty, StepPenaltyConfig


class TestPlugin(PluginContract):
    """Every registration imports, every config field is documented, the recipes resolve, plugin.py is cheap."""

    plugin = plugin


class TestStepPenalty(RewardContract):
    """The conformance tests every reward passes (shape, dtype, state, resets)."""

    def make_reward(self, env_spec):
        return StepPenalty(StepPenaltyConfig(cost=0.1), env_spec=env_spec)


def test_it_is_registered(intarsia_host):
    host = intarsia_host(plugin)
    assert "{name}-step-penalty" in host.registry.names("rewards")


def test_it_costs_what_the_config_says():
    from intarsia.builtin.gridworld import CaptionedGridEnv

    reward = StepPenalty(StepPenaltyConfig(cost=0.25))
    batch = random_transitions(CaptionedGridEnv, num_envs=2, steps=1)[0]
    np.testing.assert_allclose(reward(batch), [-0.25, -0.25])


def test_the_example_recipe_runs_with_the_penalty_composed(intarsia_host, tmp_path):
    from intarsia.runner.api import run_config

    intarsia_host(plugin)
    report = run_config("{name}/example", ["steps=300"], run_dir=tmp_path)
    assert report["steps"] == 300
    assert report["metrics"]["reward_{name}-step-penalty_mean"] < 0  # each finished episode paid per step
'''

_RUN = '''# intarsia run {name}/example   (after installing the plugin)
# Starts from the core's tiny preset (`intarsia show recipes builtin/tiny`); keys here win.
extends: builtin/tiny
name: {name}-example
rewards:
  - {{name: {name}-step-penalty, coef: 1.0, cost: 0.01}}
'''

_WORKFLOW = '''# Runs the plugin's tests on every push and pull request, against a non-editable install (what users get).
name: tests
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python-version: ["3.10", "3.12"]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{{{ matrix.python-version }}}}
          cache: pip
      # the CPU build of torch keeps the job small; drop the index URL to test with CUDA wheels
      - run: pip install torch --index-url https://download.pytorch.org/whl/cpu
      - run: pip install ".[test]"
      - run: intarsia plugins
      - run: pytest tests          # add --intarsia-slow to run the tests marked slow
'''

_GITIGNORE = '''__pycache__/
*.egg-info/
build/
dist/
runs/
.venv/
'''

_README = '''# intarsia-{name}

An [intarsia](https://pypi.org/project/intarsia-core/) plugin. It registers the reward
`{name}-step-penalty` and the recipe `{name}/example`.

```bash
pip install ".[test]"                # a regular install (what users get) + pytest; from PyPI: pip install intarsia-{name}
intarsia plugins                     # shows intarsia-{name} and what it registered
intarsia show rewards {name}-step-penalty   # its options, defaults and docs
pytest tests                         # the conformance tests and a run of the recipe
intarsia run {name}/example          # the core's Q-learning agent with the reward composed in
```

Developing: `pip install -e ".[test]"` (edits take effect without reinstalling), then `pytest tests`
(`--intarsia-slow` also runs the tests marked `@pytest.mark.slow`). CI: `.github/workflows/tests.yml`.

Compatibility: `intarsia-core>=0.1,<0.2` in `pyproject.toml`. intarsia-core keeps its hook API (hooks,
registrar, component protocols, `intarsia.testing`) stable within a minor series; raise the cap after
your tests pass against the next minor release.
'''


def create_plugin(name: str, parent: str | Path = ".") -> Path:
    name = name.strip().lower().removeprefix("intarsia-")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise IntarsiaError(f"plugin name {name!r}: use lowercase letters, digits and '-', starting with a letter")
    module = "intarsia_" + name.replace("-", "_")
    root = Path(parent) / f"intarsia-{name}"
    if root.exists():
        raise IntarsiaError(f"{root} already exists: not overwriting it")
    _check_clash(name, module)
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        ".gitignore": _GITIGNORE,
        ".github/workflows/tests.yml": _WORKFLOW,
        f"src/{module}/__init__.py": '"""intarsia-{name}."""\n',
        f"src/{module}/plugin.py": _PLUGIN,
        f"src/{module}/recipes/example.yaml": _RUN,
        f"src/{module}/reward.py": _REWARD,
        f"tests/test_{module}.py": _TEST,
    }
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name, module=module), encoding="utf-8")
    return root


def _check_clash(name: str, module: str) -> None:
    """Refuse a name an installed plugin (or any importable package) already uses: the distribution, the
    entry point and the import package must all be new, or installing the skeleton would shadow it."""
    import importlib.util
    from importlib import metadata

    from .plugins import ENTRY_POINT_GROUP

    dist = f"intarsia-{name}"
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        owner = ep.dist.name if ep.dist is not None else "?"
        if ep.name == name or owner == dist:
            raise IntarsiaError(f"{name!r} clashes with the installed plugin {owner} (entry point {ep.name!r}): "
                                "choose another name")
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        pass
    else:
        raise IntarsiaError(f"{name!r} clashes with the installed distribution {dist}: choose another name")
    if importlib.util.find_spec(module) is not None:
        raise IntarsiaError(f"{name!r} clashes with the importable package {module}: choose another name")

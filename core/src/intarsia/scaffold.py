"""``intarsia new-plugin NAME``: a plugin package that installs, registers one reward, and tests it."""

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
dependencies = ["intarsia-core>=0.1,<0.2", "numpy>=1.24"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

# This line is what makes intarsia find the plugin once the package is installed.
[project.entry-points.intarsia]
{name} = "{module}.plugin"

[tool.setuptools.packages.find]
where = ["src"]
'''

_PLUGIN = '''"""Hook implementations of intarsia-{name}. Keep this module cheap to import: registrations name
factories as "module:attr" strings, imported only when a run builds the component."""

from intarsia import hookimpl


@hookimpl
def register_rewards(register):
    register(
        "{name}-step-penalty",
        factory="{module}.reward:StepPenalty",
        config="{module}.reward:StepPenaltyConfig",
        summary="A small cost per step, to prefer short episodes",
    )
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

from intarsia.testing import RewardContract, random_transitions
from {module} import plugin
from {module}.reward import StepPenalty, StepPenaltyConfig


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
'''

_RUN = '''# intarsia run example.yaml   (from this folder)
name: {name}-example
steps: 2000
num_envs: 2
env: {{name: CaptionedGrid-v0}}
policy: {{name: qlearning}}
rewards:
  - {{name: {name}-step-penalty, coef: 1.0, cost: 0.01}}
'''

_README = '''# intarsia-{name}

An [intarsia](https://pypi.org/project/intarsia-core/) plugin. It registers the reward
`{name}-step-penalty`.

```bash
pip install -e .            # or: pip install intarsia-{name}
intarsia plugins            # shows intarsia-{name} and what it registered
pytest tests                # conformance + unit tests
intarsia run example.yaml   # a run that composes the reward with the core's Q-learning agent
```
'''


def create_plugin(name: str, parent: str | Path = ".") -> Path:
    name = name.strip().lower().removeprefix("intarsia-")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise IntarsiaError(f"plugin name {name!r}: use lowercase letters, digits and '-', starting with a letter")
    module = "intarsia_" + name.replace("-", "_")
    root = Path(parent) / f"intarsia-{name}"
    if root.exists():
        raise IntarsiaError(f"{root} already exists: not overwriting it")
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        "example.yaml": _RUN,
        f"src/{module}/__init__.py": '"""intarsia-{name}."""\n',
        f"src/{module}/plugin.py": _PLUGIN,
        f"src/{module}/reward.py": _REWARD,
        f"tests/test_{module}.py": _TEST,
    }
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name, module=module), encoding="utf-8")
    return root

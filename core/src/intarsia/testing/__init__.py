"""Test helpers for plugin authors: fixtures and conformance classes.

Subclass a contract in your plugin's tests and implement its ``make_*`` methods; pytest collects the
inherited tests (the class name must start with ``Test``)::

    from intarsia.testing import RewardContract

    class TestMyReward(RewardContract):
        def make_reward(self, env_spec):
            return MyReward(MyRewardConfig(), env_spec=env_spec)

Fixtures (registered automatically through the ``pytest11`` entry point of intarsia-core):
``intarsia_host`` (a factory: a host with only the core and the plugins you pass) and ``cpu_fabric``.
"""

from __future__ import annotations

from .contracts import (
    DetectorContract,
    EnvContract,
    LLMContract,
    PolicyContract,
    RewardContract,
    WorldModelContract,
)
from .helpers import CLI, make_env_spec, random_transitions, rollout, run_cli

__all__ = [
    "CLI",
    "DetectorContract",
    "EnvContract",
    "LLMContract",
    "PolicyContract",
    "RewardContract",
    "WorldModelContract",
    "make_env_spec",
    "random_transitions",
    "rollout",
    "run_cli",
]

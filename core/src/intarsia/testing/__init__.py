"""Test helpers for plugin authors: fixtures and conformance classes.

Subclass a contract in your plugin's tests and implement its ``make_*`` methods; pytest collects the
inherited tests (the class name must start with ``Test``)::

    from intarsia.testing import RewardContract

    class TestMyReward(RewardContract):
        def make_reward(self, env_spec):
            return MyReward(MyRewardConfig(), env_spec=env_spec)

Each inherited test checks one clause of the contract; a failure quotes the clause
(:class:`ContractViolation`). ``PluginContract`` checks a whole plugin (registrations import, config fields
are documented, recipes resolve, the hooks module is cheap to import).

Fixtures (registered automatically through the ``pytest11`` entry point of intarsia-core):
``intarsia_host`` (a factory: a host with only the core and the plugins you pass, as modules or installed
plugins' entry-point names) and ``cpu_fabric``. Tests marked ``@pytest.mark.slow`` are skipped unless
pytest runs with ``--intarsia-slow``.
"""

from __future__ import annotations

from .clauses import ContractViolation, clause, clauses
from .contracts import (
    AnalysisContract,
    DetectorContract,
    EncoderContract,
    EnvContract,
    LLMContract,
    PolicyContract,
    RewardContract,
    SamplerContract,
    WorldModelContract,
)
from .helpers import CLI, make_env_spec, random_transitions, rollout, run_cli
from .plugin_contract import PluginContract

__all__ = [
    "AnalysisContract",
    "CLI",
    "ContractViolation",
    "DetectorContract",
    "EncoderContract",
    "EnvContract",
    "LLMContract",
    "PluginContract",
    "PolicyContract",
    "RewardContract",
    "SamplerContract",
    "WorldModelContract",
    "clause",
    "clauses",
    "make_env_spec",
    "random_transitions",
    "rollout",
    "run_cli",
]

"""The probe: motif's NetHack env passed its `task` to gym.make, so "this:X-v0" imported a module."""

from __future__ import annotations

import sys

import pytest
from intarsia.errors import ConfigError


@pytest.mark.parametrize("task", ["this:X-v0", "colorsys:Fly-v0"])
def test_a_task_naming_a_module_is_refused_before_any_import(task):
    from intarsia_motif.envs.nethack import NetHackCaptioned

    module = task.split(":")[0]
    sys.modules.pop(module, None)
    with pytest.raises(ConfigError, match="names a module to import"):
        NetHackCaptioned(task=task)
    assert module not in sys.modules

"""Core tests never load installed plugins: they build hosts from inline plugins."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("INTARSIA_NO_PROGRESS", "1")


@pytest.fixture
def core_host(intarsia_host):
    """A host with the core's built-in plugin only."""
    return intarsia_host()

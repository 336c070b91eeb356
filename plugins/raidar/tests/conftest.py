"""Shared fixtures: the paper's News data (read in place, never copied) and small synthetic records."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).parent))  # for raidar_testdata (pytest runs with --import-mode=importlib)


def shared_data_dir() -> Path:
    """``$INTARSIA_SHARED_DATA`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("INTARSIA_SHARED_DATA", REPO.parent / "shared" / "data"))


def news_dir() -> Path:
    return shared_data_dir() / "raidar" / "news"


@pytest.fixture(scope="session")
def news_paths():
    d = news_dir()
    human, machine = d / "Human.json", d / "GPT.json"
    if not (human.is_file() and machine.is_file()):
        pytest.skip(f"Raidar News data not found in {d} (set INTARSIA_SHARED_DATA to the folder holding raidar/news)")
    return human, machine


@pytest.fixture(scope="session")
def news(news_paths):
    human, machine = news_paths
    return json.loads(human.read_text(encoding="utf-8")), json.loads(machine.read_text(encoding="utf-8"))

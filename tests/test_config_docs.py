"""Every option of every registered component is documented by a docstring under its field, so
``intarsia show KIND NAME`` can say what it means (a ``#`` comment does not count)."""

from __future__ import annotations

import dataclasses

import pytest
from intarsia.describe import without_docstring
from intarsia.plugins import get_registry


def _config_classes():
    registry = get_registry()
    seen = {}
    for kind in registry.kinds:
        if kind == "recipes":
            continue
        for name in registry.names(kind):
            comp = registry.get(kind, name)
            try:
                cls = comp.load_config_class()
            except ImportError as exc:  # an optional dependency of the config module itself
                pytest.skip(f"{kind}/{name}: {exc}")
            if cls is not None and dataclasses.is_dataclass(cls):
                seen.setdefault(cls, f"{kind}/{name}")
    return sorted(seen.items(), key=lambda item: item[1])


CLASSES = _config_classes()


def test_the_walk_finds_every_plugin():
    owners = {cls.__module__.split(".")[0] for cls, _ in CLASSES}
    assert {"intarsia", "intarsia_r2i", "intarsia_motif", "intarsia_lmcdqn", "intarsia_crl"} <= owners


@pytest.mark.parametrize("cls", [c for c, _ in CLASSES], ids=[label for _, label in CLASSES])
def test_every_field_has_a_docstring(cls):
    assert without_docstring(cls) == [], f"{cls.__module__}.{cls.__qualname__}: fields without a docstring"


def test_a_trailing_comment_is_not_a_docstring():
    @dataclasses.dataclass
    class Commented:
        documented: int = 1
        """what it is"""
        commented: int = 2  # a comment only

    assert without_docstring(Commented) == ["commented"]


def test_the_two_training_sections_have_distinct_names():
    from intarsia.runner.train_config import TrainConfig
    from intarsia_crl.config import CRLJobConfig, TrainerConfig

    assert TrainerConfig is not TrainConfig
    assert isinstance(CRLJobConfig().train, TrainerConfig)

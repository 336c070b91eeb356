"""A component built from a registry that is not the process's builds its own parts from that same registry:
``build(..., registry=r)`` reaches the builds its factory makes without naming one, and so does a job run with
``run_config(..., registry=r)``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from intarsia import hookimpl
from intarsia.build import build, make_spec
from intarsia.errors import UnknownComponentError
from intarsia.plugins import Host
from intarsia.runner.api import run_config
from intarsia.runner.run_config import RunConfig


@dataclass
class InnerConfig:
    width: int = 3
    """how wide the inner part is"""


class Inner:
    def __init__(self, config: InnerConfig):
        self.width = config.width


@dataclass
class OuterConfig:
    inner: str = "private-inner"
    """the world model this policy builds by name"""
    inner_width: int = 5
    """passed to the inner part"""


class Outer:
    """A policy that builds its world model by name, as the R2I agent does: no ``registry=`` here."""

    def __init__(self, config: OuterConfig):
        spec = make_spec("world_models", {"name": config.inner, "width": config.inner_width})
        self.inner = build("world_models", spec)


@dataclass
class NestConfig(RunConfig):
    job: str = "nest"
    """the job that runs this config"""


def run_nest(config: NestConfig, *, run) -> dict:
    """A job that builds a component by name without passing the run's registry on."""
    outer = build("policies", "private-outer", {"inner_width": 7})
    return {"steps": 0, "unit": "steps", "metrics": {"width": outer.inner.width}}


class Private:
    """Components that only a custom registry holds, never the process-wide host."""

    __distribution__ = "intarsia-private"

    @hookimpl
    def register_world_models(self, register):
        register("private-inner", factory=Inner, config=InnerConfig, summary="a part only this registry has")

    @hookimpl
    def register_policies(self, register):
        register("private-outer", factory=Outer, config=OuterConfig, summary="builds private-inner by name")

    @hookimpl
    def register_jobs(self, register):
        register("nest", factory=run_nest, config=NestConfig, summary="builds private-outer by name")


@pytest.fixture
def private_registry(core_host):
    """The process-wide host has the core only; this registry also has :class:`Private`'s components."""
    return Host([Private()], autoload=False, strict=True).registry


def test_a_nested_build_uses_the_registry_of_the_outer_build(private_registry):
    outer = build("policies", "private-outer", {"inner_width": 4}, registry=private_registry)
    assert isinstance(outer.inner, Inner) and outer.inner.width == 4


def test_the_outer_registry_does_not_leak_past_its_build(private_registry):
    build("policies", "private-outer", registry=private_registry)
    with pytest.raises(UnknownComponentError):  # the process-wide host never had it
        build("world_models", "private-inner")
    with pytest.raises(UnknownComponentError):
        build("policies", "private-outer")


def test_a_job_builds_from_the_registry_it_was_run_with(private_registry, tmp_path):
    report = run_config({"job": "nest", "log": {"progress": False}}, run_dir=tmp_path / "run", registry=private_registry)
    assert report["metrics"]["width"] == 7

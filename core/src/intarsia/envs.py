"""Registered envs as gymnasium envs: ``import intarsia.envs`` makes every env that any installed plugin
registered reachable as ``gymnasium.make("intarsia/<Name>")`` (or, without the import,
``gymnasium.make("intarsia.envs:intarsia/<Name>")``)."""

from __future__ import annotations

import functools

NAMESPACE = "intarsia"


def _make(name: str, **kwargs):
    from intarsia.build import build

    fields = {k: v for k, v in kwargs.items() if k != "render_mode"}
    extra = {"render_mode": kwargs["render_mode"]} if kwargs.get("render_mode") is not None else {}
    return build("envs", name, fields, **extra)


def gym_id(name: str) -> str:
    return name if "/" in name else f"{NAMESPACE}/{name}"


def register_gymnasium_envs(registry=None) -> list[str]:
    """Register every intarsia env with gymnasium (idempotent). Returns the gymnasium ids."""
    import gymnasium

    if registry is None:
        from intarsia.plugins import get_registry

        registry = get_registry()
    ids = []
    for name in registry.names("envs"):
        env_id = gym_id(name)
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=functools.partial(_make, name), disable_env_checker=True)
        ids.append(env_id)
    return ids


register_gymnasium_envs()

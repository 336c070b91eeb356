"""Gymnasium env ids that come from configs. ``gymnasium.make("module:Env-v0")`` imports ``module``, so a
config value that reaches ``gym.make`` must be a plain id: ``[namespace/]Name[-vN]``, never an import path."""

from __future__ import annotations

import re

from intarsia.errors import ConfigError

# gymnasium's own id grammar (gymnasium.envs.registration.ENV_ID_RE) without its ``module:`` prefix.
_PLAIN_ID = re.compile(r"^(?:[\w.-]+/)?[\w.-]+?(?:-v\d+)?$")


def check_env_id(env_id: object, *, what: str = "env id") -> str:
    """Return ``env_id`` if it is a plain gymnasium id; raise a one-line ``ConfigError`` otherwise.

    ``what`` names the config key in the message (``"task"``, ``"env.name"``)."""
    if not isinstance(env_id, str) or not env_id:
        raise ConfigError(f"{what}: expected a gymnasium env id such as 'CartPole-v1', got {env_id!r}")
    if ":" in env_id:
        raise ConfigError(f"{what}: {env_id!r} names a module to import ('module:Env'); configs name env ids only")
    if not _PLAIN_ID.match(env_id):
        raise ConfigError(f"{what}: {env_id!r} is not a gymnasium env id ([namespace/]Name[-vN])")
    return env_id

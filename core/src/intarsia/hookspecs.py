"""Every hook intarsia calls, in one file. Each docstring is the hook's contract.

Plugins implement hooks with ``@intarsia.hookimpl``. The ``register_<kind>(register)`` hooks hand the
plugin a *registrar*: a callable that records a named component without importing it::

    @hookimpl
    def register_rewards(register):
        register("motif", factory="intarsia_motif.reward:MotifReward",
                 config="intarsia_motif.config:MotifRewardConfig",
                 summary="LLM-preference intrinsic reward (Motif, ICLR 2024)")

``factory`` and ``config`` are ``"module:attr"`` strings (or the objects themselves, when importing them
is cheap); they are imported only when the component is built, so listing plugins stays fast.
Registering a name another distribution already registered for the same kind is an error naming both.
A renamed component keeps resolving under its old names with ``renamed_from=["old"]`` (a one-line
deprecation notice on stderr when a config uses one).

The kinds below are the core's; a plugin adds its own with :func:`register_kinds`. The core calls every
hook through pluggy's caller, once per plugin (so each registration is attributed to its distribution),
and ``INTARSIA_TRACE_PLUGINS=1`` prints each call.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("intarsia")
hookimpl = pluggy.HookimplMarker("intarsia")


@hookspec
def register_kinds(register):
    """Declare new kinds of component, so that other plugins can register them without a change to the core.

    Call ``register(kind, singular=..., hookspec=...)``: ``kind`` is the plural name used by ``intarsia list
    KIND``, :func:`intarsia.build.build` and :func:`intarsia.config.component` (lower case, ``[a-z0-9_]``);
    ``singular`` is how messages name one component (``"sampler"``); ``hookspec`` is the hook other plugins
    implement to register components of the kind: a function ``register_<kind>(register)`` marked with
    ``@intarsia.hookspecs.hookspec`` (or its ``"module:attr"``) whose docstring is the contract of the kind
    (what its factory takes and returns), as the specs in this file are. Declare a kind in the plugin whose
    job or component builds it; a kind name another plugin (or the core) already declared is an error
    naming both. The core calls this hook before any ``register_<kind>`` hook.
    """


@hookspec
def register_envs(register):
    """Register environments (gymnasium ``Env`` factories).

    ``factory(**config_fields)`` returns a ``gymnasium.Env``. Every registered env is also reachable as
    ``gymnasium.make("intarsia/<name>")``. Envs that describe events in text put a ``str`` in
    ``info["caption"]`` on every step (``""`` when nothing happened). Envs that have a notion of success
    put ``info["success"]`` (bool) in the info of an episode's last step. A caption in the *reset* info
    reaches no reward (rewards see transitions): show a cue in the observation or caption it on a step.
    Registered without ``config=``, an env takes no options.
    """


@hookspec
def register_rewards(register):
    """Register reward terms (see :class:`intarsia.interfaces.Reward`).

    ``factory(config, *, env_spec)`` returns an object that maps a :class:`~intarsia.interfaces.Transitions`
    batch to one float per environment, may keep per-episode state (reset per env index when that env's
    episode ends) and declares the transition fields it reads in ``requires``.
    """


@hookspec
def register_policies(register):
    """Register trainable agents (see :class:`intarsia.interfaces.Policy`).

    ``factory(config, *, env_spec, fabric)`` returns a policy the runner drives with ``act``,
    ``observe``, ``update`` and ``state_dict``/``load_state_dict``. The policy owns its networks,
    optimisers and replay; it sets them up with ``fabric`` so the same code runs on CPU, GPU and DDP.
    ``update(step)`` gets the global env step (all ranks together), the clock of its schedule.
    """


@hookspec
def register_world_models(register):
    """Register world models (see :class:`intarsia.interfaces.WorldModel`).

    ``factory(config, *, obs_space, action_space, reward_terms)`` returns a ``torch.nn.Module`` that agents
    select by name, so sequence models (an SSM, a GRU-RSSM) are swappable inside one agent.
    """


@hookspec
def register_detectors(register):
    """Register machine-generated-text detectors (see :class:`intarsia.interfaces.Detector`).

    ``factory(config)`` returns an object with ``fit(texts, labels)``, ``score(texts)`` (probability that
    each text is machine-generated), ``save(path)`` and a classmethod ``load(path)``.
    """


@hookspec
def register_llms(register):
    """Register text-generation backends (see :class:`intarsia.interfaces.LLM`).

    ``factory(config)`` returns an object with ``generate(prompts, *, max_tokens, temperature, top_p, stop,
    seed) -> list[str]``; backends that can score answer options expose ``option_logprobs``.
    """


@hookspec
def register_jobs(register):
    """Register jobs: what ``intarsia run`` executes.

    A recipe or YAML file names its job with the top-level key ``job`` (default ``train``, the core's
    Lightning Fabric RL loop). ``factory(config, *, run)`` receives the resolved config dataclass and a
    :class:`intarsia.runner.context.RunContext` (run directory, resume flag) and returns the report dict
    that is written to ``report.json``. Jobs must be resumable from their run directory.
    """


@hookspec
def register_loggers(register):
    """Register metric loggers: what ``log.loggers: [csv, tensorboard, wandb, mlflow, ...]`` names.

    ``factory(*, run_dir, name, fit, resume_step)`` returns a Lightning logger, or ``None`` when it cannot
    log here (an optional package not installed, and the logger is one a default list names). ``run_dir``
    is the run directory (write under it), ``name`` the run's name (``config.name``, what a tracker shows).
    ``fit`` is ``None`` for a job on Lightning Fabric, which takes any ``lightning.fabric.loggers.Logger``;
    for a Lightning Trainer fit it is the fit's name (``""`` for the run's own), and the logger must be a
    ``lightning.pytorch.loggers.Logger`` (which also serves Fabric). ``resume_step`` is the step a resumed
    Trainer fit continues from (``None``: a fresh one); a Fabric logger learns it through an optional
    ``resume_from(step)`` method, called before anything is logged. The logger receives every metric
    (``log_metrics``) and the run's config (``log_hyperparams``); ``finalize(status)`` ends it, and a
    logger holding an open session (a tracker's run) also implements ``finish(status)``, idempotent, which
    the runner calls when a job ends, fails included.
    """


@hookspec
def register_recipes(register):
    """Register recipes: named, runnable YAML configs shipped inside the plugin.

    Call ``register(name, file=PATH, summary=...)`` with the path of a YAML file in the package
    (``pathlib.Path(__file__).parent / "recipes" / "x.yaml"``). ``intarsia recipes`` lists them and
    ``intarsia run NAME`` runs one. Names are ``<plugin>/<recipe>``.
    """


@hookspec
def register_commands(cli):
    """Add subcommands to the ``intarsia`` command line.

    ``cli`` is the root ``click.Group``; decorate functions with ``@cli.command()`` or ``@cli.group()``.
    Import heavy modules inside the command bodies, not at module level, so ``intarsia --help`` stays fast.
    """


@hookspec
def register_encoders(register):
    """Register observation encoders (see :class:`intarsia.interfaces.Encoder`): images to representations
    that another component (a world model, a policy, a probe) selects by name.

    ``factory(config)`` returns a ``torch.nn.Module`` with ``image_shape`` (``(channels, height, width)`` it
    expects) and ``output_shape`` (per image: ``(num_slots, slot_dim)`` for an object-centric encoder,
    ``(dim,)`` for a flat one). ``module(images)`` takes float32 ``(batch, *image_shape)`` in ``[0, 1]`` and
    returns float32 ``(batch, *output_shape)``. In ``eval()`` mode the output is deterministic (stochastic
    parts such as slot initialisation use a fixed seed). A trained encoder is loaded through a config field
    naming its weights file (read with ``torch.load(weights_only=True)``).
    """

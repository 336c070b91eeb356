"""The hook of the ``samplers`` kind, which this plugin declares (its ``gfn`` job is what builds samplers).

A distribution that registers a sampler implements ``register_samplers`` and depends on intarsia-gfn.
"""

from __future__ import annotations

from intarsia.hookspecs import hookspec


@hookspec
def register_samplers(register):
    """Register samplers (see :class:`intarsia.interfaces.Sampler`): trainable generators of discrete
    objects, such as GFlowNets, that learn to sample terminal states of a DAG in proportion to a reward.

    ``factory(config, *, fabric)`` returns an object that owns its environment (the DAG and its reward,
    described in ``config``), networks, optimisers and replay, set up with ``fabric`` so the same code runs
    on CPU and GPU. A job drives it: ``update(step) -> {"group/name": float}`` runs one training iteration
    and adds the trajectories it drew to ``trajectories``; ``sample(n)`` draws ``n`` terminal objects (a
    tensor with a leading ``n`` axis) from the current sampler; ``evaluate() -> {name: float}`` measures it
    (exactly, by dynamic programming, where the space is enumerable); ``state_dict()/load_state_dict()``
    hold tensors, numbers, strings and containers only (loaded with ``weights_only=True``), so a resumed
    sampler continues as the uninterrupted one would.
    """

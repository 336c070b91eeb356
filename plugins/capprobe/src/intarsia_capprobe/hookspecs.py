"""The hook of the ``analyses`` kind, which this plugin declares (its ``capprobe`` job is what builds
analyses).

A distribution that registers an analysis implements ``register_analyses`` and depends on intarsia-capprobe.
"""

from __future__ import annotations

from intarsia.hookspecs import hookspec


@hookspec
def register_analyses(register):
    """Register analyses (see :class:`intarsia.interfaces.Analysis`): measurements of a trained model.

    ``factory(config)`` returns an object whose ``run(model, data)`` takes a trained ``torch.nn.Module``
    (any model with named modules; the analysis reads activations through forward hooks on modules it
    selects by name) plus the data the analysis documents, and returns ``{"metrics": {name: float},
    "figures": {name: matplotlib Figure}}``. ``run`` leaves the model as it found it (weights, mode and
    hooks restored), so analyses compose on one model in any order; results are deterministic for a fixed
    config seed.
    """

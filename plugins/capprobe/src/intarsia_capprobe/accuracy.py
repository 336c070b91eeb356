"""The ``exact-match`` analysis: exact-match accuracy of the answer token on named eval sets."""

from __future__ import annotations


class ExactMatch:
    """The ``exact-match`` analysis: ``data = {set name: {"input_ids", "positions", "labels"}}`` ->
    metrics ``acc/<set name>``."""

    def __init__(self, config=None):
        from .config import AccuracyConfig

        self.config = config or AccuracyConfig()

    def run(self, model, data) -> dict:
        from .training import exact_match

        if not data:
            raise ValueError("exact-match: data names no eval set")
        metrics = {f"acc/{name}": exact_match(model, d, self.config.batch_size) for name, d in data.items()}
        return {"metrics": metrics, "figures": {}}

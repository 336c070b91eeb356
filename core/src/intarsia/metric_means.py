"""Per-update training metrics kept on the device and read in one transfer.

An update that turns each loss into a Python float (``.item()``, ``float()``) waits for the device once per
metric, every update; on a GPU that stalls the queue of kernels. :class:`MetricMeans` sums the metrics as
detached tensors where they are computed and reads them all at once, every ``every`` updates.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


class MetricMeans:
    """Running sums of named metrics (tensors or numbers) since the last :meth:`pop`.

    ``add`` once per update; ``due`` says when ``every`` updates have been added; ``pop`` returns each
    metric's mean over the updates that reported it (one device-to-host copy) and starts again.
    """

    def __init__(self, every: int = 1):
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.every = int(every)
        self._sums: dict[str, torch.Tensor | float] = {}
        self._counts: dict[str, int] = {}
        self.updates = 0

    def add(self, metrics: Mapping[str, torch.Tensor | float]) -> None:
        for key, value in metrics.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().float()
            previous = self._sums.get(key)
            self._sums[key] = value if previous is None else previous + value
            self._counts[key] = self._counts.get(key, 0) + 1
        self.updates += 1

    def due(self) -> bool:
        return self.updates >= self.every

    def pop(self) -> dict[str, float]:
        keys = list(self._sums)
        tensors = [k for k in keys if isinstance(self._sums[k], torch.Tensor)]
        values = {k: float(self._sums[k]) for k in keys if k not in tensors}
        if tensors:  # one stacked copy instead of one per metric
            stacked = torch.stack([self._sums[k].reshape(()).to(torch.float64) for k in tensors])
            values.update(zip(tensors, stacked.cpu().tolist(), strict=True))
        out = {k: values[k] / self._counts[k] for k in keys}
        self._sums, self._counts, self.updates = {}, {}, 0
        return out

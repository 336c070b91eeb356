"""Synthetic records for the Raidar tests (imported by the test modules; conftest puts this folder on sys.path)."""

from __future__ import annotations

import random

VOCAB = ("the a of to and in market report said year company people city new policy growth officials "
         "announced week plan local government data rose fell percent share price team season").split()


def synthetic_records(n_per_class: int = 40, seed: int = 0, prompts=("P1", "P2", "P3")):
    """Records in the paper's format with Raidar's premise built in: rewrites of machine texts keep most
    words, rewrites of human texts change many. Returns (records, labels)."""
    rng = random.Random(seed)
    records, labels = [], []
    for label, keep in ((1, 0.9), (0, 0.55)):
        for _ in range(n_per_class):
            words = [rng.choice(VOCAB) for _ in range(rng.randint(20, 40))]
            rec = {"input": " ".join(words)}
            for p in prompts:
                k = min(0.99, max(0.2, keep + rng.uniform(-0.1, 0.1)))
                rec[p] = " ".join(w if rng.random() < k else rng.choice(VOCAB).upper() for w in words)
            records.append(rec)
            labels.append(label)
    return records, labels

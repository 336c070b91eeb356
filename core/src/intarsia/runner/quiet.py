"""Third-party console noise a run does not need: HF datasets' progress bars, Lightning's "GPU available" /
tips / SLURM lines and two known deprecation warnings from inside Lightning. Our own warnings, and
every other library's, are left as they are."""

from __future__ import annotations

import logging
import os
import sys
import warnings

# matched against the start of the warning's message; each is raised inside a dependency, not by our calls
_KNOWN = (
    r"The `srun` command is available on your system but is not used",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)


def quiet_third_party() -> None:
    """Call once before a job runs (idempotent)."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # read when datasets is imported
    if "datasets" in sys.modules:
        try:
            sys.modules["datasets"].disable_progress_bars()
        except AttributeError:
            pass
    for message in _KNOWN:
        warnings.filterwarnings("ignore", message=message)
    # Lightning's rank-zero info lines (accelerator summary, "💡 Tip: ...", "`Trainer.fit` stopped: ...")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda", "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)

"""The one progress bar of every job: rich, on rank 0, off under ``INTARSIA_NO_PROGRESS=1``."""

from __future__ import annotations

import os
import time


class Progress:
    """``with Progress(total=..., done=..., description=..., unit=...) as bar: bar.advance(n, text)``.

    ``text`` is a short status shown beside the bar (the job's headline numbers), or a callable returning
    it, called only when the bar is redrawn (at most four times a second), so calling ``advance`` every step
    costs nothing noticeable. Disabled, every call is a no-op.
    """

    def __init__(self, *, total: int, done: int = 0, description: str = "", unit: str = "steps", enabled: bool = True):
        self.enabled = enabled and not os.environ.get("INTARSIA_NO_PROGRESS")
        self.text = ""
        self._last = 0.0
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn(unit), TextColumn("{task.fields[stats]}"), TimeRemainingColumn())
            self.task = self.bar.add_task(description, total=total, completed=done, stats="")

    def __enter__(self) -> Progress:
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)

    def advance(self, n: int = 1, text=None) -> None:
        if not self.enabled:
            return
        if isinstance(text, str):
            self.text = text
        now = time.perf_counter()
        if now - self._last < 0.25:
            self.bar.advance(self.task, n)
            return
        self._last = now
        if callable(text):
            self.text = text()
        self.bar.update(self.task, advance=n, stats=self.text)

    def note(self, text: str) -> None:
        """Set the status text without advancing (shown at the next redraw)."""
        self.text = text

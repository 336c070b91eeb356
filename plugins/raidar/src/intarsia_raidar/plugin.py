"""Hook implementations only: cheap imports, nothing heavy at module level."""

from __future__ import annotations

from intarsia import hookimpl


@hookimpl
def register_detectors(register):
    register("raidar", factory="intarsia_raidar.detector:RaidarDetector",
             config="intarsia_raidar.config:RaidarConfig",
             summary="Raidar: machine-text detection by LLM rewriting distance (Mao et al., ICLR 2024)")


@hookimpl
def register_commands(cli):
    from .cli import add_commands  # click only; the command bodies import the heavy parts

    add_commands(cli)

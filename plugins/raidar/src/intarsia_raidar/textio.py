"""Reading the texts a user hands the CLI, and refusing bad ones with a message that says why.

A FILE is one of (detected from its content, not its name):

* the paper's format: a JSON list of objects, each with ``"input"`` and one key per rewrite prompt
  (these are *records*: offline mode, no LLM needed);
* a JSON list of strings, or JSON lines, each a string or an object with ``"text"`` or ``"input"``
  (an object with ``"input"`` plus other string keys is a record too);
* anything else that decodes as UTF-8: one plain text (the whole file) -- except a file that starts like
  JSON data (``[{``, ``["``, ``{"``) but does not parse: that is a damaged data file (cut short by a copy,
  say), refused with the position of the error rather than scored as one text.

Policy for bad input: files that are not UTF-8, look binary (NUL bytes) or exceed ``MAX_FILE_BYTES``
are refused; empty or whitespace-only texts are refused with their location. Over-long texts are not
refused here: the rewriter truncates them to ``max_words`` with a warning (see :mod:`.rewrite`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from intarsia.errors import IntarsiaError

from .features import INPUT_KEY

MAX_FILE_BYTES = 64 * 1024 * 1024  # a text corpus larger than this is almost surely a wrong file
_LOOKS_LIKE_JSON_DATA = re.compile(r'\s*(\[\s*[\[{"]|\{\s*")')  # prose does not start with [{ [" or {"

Item = str | dict  # a text, or a record {"input": text, prompt: rewrite, ...}


class InputError(IntarsiaError, ValueError):
    """A user-facing problem with an input file or text (the CLI prints it without a traceback)."""


@dataclass
class Loaded:
    """The items of one file and where each came from (``file:line`` or ``file[i]``)."""

    items: list[Item]
    where: list[str]
    skipped: list[str] = field(default_factory=list)  # messages for items dropped by skip_invalid


def check_text(text: object, where: str) -> str:
    """A usable text, or an InputError naming the place."""
    if not isinstance(text, str):
        raise InputError(f"{where}: expected a text (string), got {type(text).__name__}")
    if not text:
        raise InputError(f"{where}: empty text: nothing to detect")
    if not text.strip():
        raise InputError(f"{where}: the text is only whitespace: nothing to detect")
    if "\x00" in text:
        raise InputError(f"{where}: the text contains NUL bytes (binary data?)")
    return text


def check_record(record: dict, where: str) -> dict:
    check_text(record.get(INPUT_KEY), f"{where}[{INPUT_KEY!r}]")
    for key, value in record.items():
        if not isinstance(value, str):
            raise InputError(f"{where}: the rewrite under {key!r} is {type(value).__name__}, expected a string")
    return record


def read_utf8(path: str | Path) -> str:
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if p.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: {size / 2**20:.0f} MiB is more than the {MAX_FILE_BYTES // 2**20} MiB limit for a text file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: looks like a binary file (NUL bytes), expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return text.removeprefix("\ufeff")  # a BOM is not part of the text


def _item_from_json(value: object, where: str) -> Item:
    if isinstance(value, dict):
        if INPUT_KEY in value and len(value) > 1:
            return check_record(value, where)
        for key in ("text", INPUT_KEY):
            if key in value:
                return check_text(value[key], f"{where}[{key!r}]")
        raise InputError(f"{where}: a JSON object needs a 'text' or 'input' key (got {', '.join(map(str, value)) or 'none'})")
    return check_text(value, where)


def _collect(values: list[tuple[str, object]], skip_invalid: bool) -> Loaded:
    out = Loaded([], [])
    for where, value in values:
        try:
            item = _item_from_json(value, where)
        except InputError as exc:
            if not skip_invalid:
                raise
            out.skipped.append(str(exc))
            continue
        out.items.append(item)
        out.where.append(where)
    return out


def load_items(path: str | Path, skip_invalid: bool = False) -> Loaded:
    """Every text or record in a file (see the module docstring for the formats). With
    ``skip_invalid``, bad items of a multi-item file are dropped and described in ``skipped`` instead of
    failing the whole file (the file itself must still be readable UTF-8 text)."""
    raw = read_utf8(path)
    if not raw.strip():
        raise InputError(f"{path}: the file is empty or only whitespace: nothing to detect")
    stripped = raw.strip()
    if stripped[0] in '[{"':
        error = None
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            value, error = None, f"line {exc.lineno} column {exc.colno}: {exc.msg}"
        except RecursionError:
            raise InputError(f"{path}: the JSON is nested too deeply to be texts or records") from None
        if isinstance(value, list):
            if not value:
                raise InputError(f"{path}: the JSON list is empty")
            return _collect([(f"{path}[{i}]", v) for i, v in enumerate(value)], skip_invalid)
        if isinstance(value, (dict, str)):
            return Loaded([_item_from_json(value, str(path))], [str(path)])
        lines = _json_lines(raw)
        if lines is not None:
            return _collect([(f"{path}:{n}", v) for n, v in lines], skip_invalid)
        if error is not None and _LOOKS_LIKE_JSON_DATA.match(raw):
            error = _first_bad_json_line(raw) or error
            raise InputError(f"{path}: starts like JSON data but is not valid JSON ({error}): is the file cut "
                             "short? (a plain text that starts with a bracket must not look like a JSON list)")
    return Loaded([check_text(raw, str(path))], [str(path)])


def _first_bad_json_line(raw: str) -> str | None:
    """Where JSON lines break (when the first line is one JSON value): "line N: what is wrong"."""
    lines = [(n, line) for n, line in enumerate(raw.splitlines(), start=1) if line.strip()]
    try:
        json.loads(lines[0][1])
    except (ValueError, RecursionError, IndexError):
        return None
    for n, line in lines[1:]:
        try:
            json.loads(line)
        except (ValueError, RecursionError) as exc:
            return f"line {n}: {getattr(exc, 'msg', 'nested too deeply')}"
    return None


def _json_lines(raw: str) -> list[tuple[int, object]] | None:
    """(line number, value) for every non-blank line, or None when some line is not JSON."""
    out = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            return None
        if not isinstance(value, (str, dict)):
            return None
        out.append((n, value))
    return out or None

"""Prompts for the LLM judge and the parsing of its answers.

The structure follows the paper (Klissarov, D'Oro et al., 2024, Appendix/official ``rlaif/prompts.py``):
a system prompt casting the model as an honest judge of progress in the game, a user prompt that asks for
its knowledge of the game and of the goal, an analysis of each caption, a comparison, and finally an
explicit answer in a fixed format (``("best_description": 1)``, ``2`` or ``None``). When no answer parses,
one retry prompt asks for the answer alone. The wording here is this plugin's own.

Labels follow the official indices: FIRST=0, SECOND=1, TIE=2, UNKNOWN=3.
"""

from __future__ import annotations

import re
from typing import Any

FIRST, SECOND, TIE, UNKNOWN = 0, 1, 2, 3
LABEL_NAMES = {FIRST: "first", SECOND: "second", TIE: "tie", UNKNOWN: "unknown"}
LABEL_FROM_NAME = {v: k for k, v in LABEL_NAMES.items()}

SYSTEM_PROMPT = (
    "You are a fair and careful judge of play and of progress in the game {game}. Be as helpful as you can "
    "while staying truthful.\n\nIf you do not know the answer to a question, say so instead of making "
    "something up."
)

# the two templates of the paper: "default" compares descriptions, "reworded" the same task in other words
# (messages, uncertainty); both end with the answer format whose key the parser looks for
_KEY = {"default": "best_description", "reworded": "best_message"}
_NOUN = {"default": "description", "reworded": "message"}

TEMPLATES = {
    "default": (
        "I will show you two short descriptions of moments of play.\n"
        "First, tell me what you know about {game} and say what its goal is. {goal}\n"
        "Next, analyse what each description means, using only what the description says (it may be empty) "
        "and your knowledge of {game}.\n"
        "Compare the two from first principles.\n"
        "Finally, say explicitly which one is more likely to show progress towards the goal by writing "
        '("{key}": 1) or ("{key}": 2). You may also write ("{key}": None).\n\n'
        '{{\n"{noun}_1":\n"{first}"\n}}\n\n{{\n"{noun}_2":\n"{second}"\n}}\n'
    ),
    "reworded": (
        "I will show you two short in-game messages.\n"
        "First, tell me what you know about {game} and say what its goal is.\n"
        "Then summarise the meaning and the evident effect of each message, using only facts from the "
        "messages and your knowledge of {game}.\n"
        "Then compare them from first principles and comment on how uncertain you are. {goal}\n"
        "Finally, name one of the two messages as the more likely to show improvement with respect to the "
        'goal by writing ("{key}": 1) or ("{key}": 2). If you are very uncertain you may write '
        '("{key}": None). Keep exactly to this format.\n\n'
        '{{\n"{noun}_1":\n"{first}"\n}}\n\n{{\n"{noun}_2":\n"{second}"\n}}\n'
    ),
}

RETRY_PROMPT = (
    'So which one is better? Answer only with ("{key}": 1), ("{key}": 2) or ("{key}": None).'
)

#: goals the judge is told to pursue. "zeroknowledge" is the paper's ablation without any goal text.
DEFAULT_GOALS = {
    "NetHack": (
        "Prefer agents that raise their score in the game, for example by defeating monsters, gathering gold "
        "or going down the stairs of the dungeon."
    ),
    "gridworld": (
        "Prefer agents that make progress through the level: unlocking the way forward and reaching the exit."
    ),
}
GENERIC_GOAL = "Prefer agents that make progress towards finishing the game."


def goal_text(game: str, goal: str = "default", custom: str = "") -> str:
    """The goal sentence: the game's default, none (zero-knowledge) or a user-supplied steering goal."""
    if goal == "zeroknowledge":
        return ""
    if goal == "custom":
        if not custom:
            raise ValueError("prompt.goal is 'custom' but prompt.goal_text is empty")
        return custom
    if goal != "default":
        raise ValueError(f"prompt.goal must be 'default', 'zeroknowledge' or 'custom', got {goal!r}")
    return custom or DEFAULT_GOALS.get(game, GENERIC_GOAL)


def answer_key(style: str = "default") -> str:
    if style not in _KEY:
        raise ValueError(f"prompt.style must be one of {sorted(_KEY)}, got {style!r}")
    return _KEY[style]


def render_user_prompt(first: str, second: str, *, game: str = "NetHack", goal: str = "", style: str = "default") -> str:
    """The user turn for one pair (captions are inserted verbatim, as the paper does)."""
    key = answer_key(style)
    text = TEMPLATES[style].format(game=game, goal=goal, key=key, noun=_NOUN[style], first=first, second=second)
    # a zero-knowledge goal leaves a dangling space before the newline; drop it
    return text.replace(" \n", "\n")


def render_system_prompt(game: str = "NetHack") -> str:
    return SYSTEM_PROMPT.format(game=game)


def render_chat(first: str, second: str, *, game: str = "NetHack", goal: str = "", style: str = "default") -> list[dict[str, str]]:
    """Chat messages for generation mode (the backend applies its template)."""
    return [
        {"role": "system", "content": render_system_prompt(game)},
        {"role": "user", "content": render_user_prompt(first, second, game=game, goal=goal, style=style)},
    ]


def render_retry(chat: list[dict[str, str]], answer: str, style: str = "default") -> list[dict[str, str]]:
    """The conversation extended with the model's unparsable answer and the retry question."""
    return list(chat) + [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": RETRY_PROMPT.format(key=answer_key(style))},
    ]


def render_scoring_prompt(first: str, second: str, *, game: str = "NetHack", goal: str = "", style: str = "default") -> str:
    """A plain-text prompt that ends right where the answer digit goes, for option log-prob scoring.

    Plain text (not a chat list) so it also works with base models without a chat template: the system
    prompt, the user prompt, then the start of the answer in the requested format.
    """
    key = answer_key(style)
    return (
        f"{render_system_prompt(game)}\n\n{render_user_prompt(first, second, game=game, goal=goal, style=style)}\n"
        f'Answer: ("{key}": '
    )


def _answer_regex(key: str) -> re.Pattern:
    # the key with "_" or spaces between its words, any quotes/colons/brackets, optionally one filler word
    # ("is", "=", "description"), then the verdict
    words = key.split("_")
    key_pat = r"[\s_]*".join(re.escape(w) for w in words)
    return re.compile(key_pat + r"[\"'\s]*[:=]?\s*[\"'(\[]*\s*(?:is\s+|=\s*)?[\"'(\[]*\s*(1|2|none|null)\b", re.IGNORECASE)


_REGEX = {style: _answer_regex(key) for style, key in _KEY.items()}


def parse_answer(text: Any, style: str = "default") -> int | None:
    """The label in a model answer, or ``None`` when nothing parses (the caller then retries once).

    ``1`` -> FIRST, ``2`` -> SECOND, ``None``/``null`` -> TIE. The first well-formed answer wins (models
    sometimes restate the format before answering; the official code also takes the first match).
    """
    if not isinstance(text, str) or not text:
        return None
    match = _REGEX[style if style in _REGEX else answer_key(style)].search(text)
    if match is None:
        return None
    verdict = match.group(1).lower()
    return {"1": FIRST, "2": SECOND}.get(verdict, TIE)


def flip(label: int) -> int:
    """The label of the same pair with the two captions swapped."""
    return {FIRST: SECOND, SECOND: FIRST}.get(label, label)

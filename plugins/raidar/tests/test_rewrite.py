"""Rewriting plumbing: prompts, request shape, echo stripping, truncation, backend failures."""

from __future__ import annotations

import numpy as np
import pytest
from intarsia_raidar.config import RaidarConfig
from intarsia_raidar.detector import RaidarDetector
from intarsia_raidar.prompts import CODE, PROSE, render, resolve_prompts, strip_echo
from intarsia_raidar.rewrite import Rewriter, RewriteUnavailable, TruncationWarning, truncate_words
from raidar_fakes import ScriptedLLM


def test_paper_prompts():
    assert len(PROSE.prompts) == 7 and PROSE.prompts[-1] == "Improve this in GPT way"
    assert len(CODE.prompts) == 5 and "Rewrite the code with GPT style" in CODE.prompts
    assert render(PROSE.template, "Help me polish this", "A {b} c") == "Help me polish this: A {b} c"
    with pytest.raises(ValueError, match="unknown prompt set"):
        resolve_prompts("poetry")
    with pytest.raises(ValueError, match="other than 'input'"):
        resolve_prompts("prose", ["input"])


def test_strip_echo():
    req = "Help me polish this: the cat sat."
    assert strip_echo("  Help me polish this: the cat sat.\n\nThe cat was sitting.", req, "Help me polish this") == "The cat was sitting."
    # only the request: the model gave the text back unchanged
    assert strip_echo(req, req, "Help me polish this") == "the cat sat."
    assert strip_echo("help me polish this:  A cat sat.", req, "Help me polish this") == "A cat sat."
    assert strip_echo(" The feline sat. ", req, "Help me polish this") == "The feline sat."


def test_rewriter_sends_user_messages_and_strips_echoes():
    llm = ScriptedLLM(lambda request: request + "\nA rewritten version.")
    rw = Rewriter(RaidarConfig(prompts=["Rewrite this for me", "Help me polish this"]), llm=llm)
    (rec,) = rw.rewrite(["Some human text here."])
    assert rec == {"input": "Some human text here.", "Rewrite this for me": "A rewritten version.",
                   "Help me polish this": "A rewritten version."}
    (call,) = llm.calls
    assert call["prompts"][0] == [{"role": "user", "content": "Rewrite this for me: Some human text here."}]
    assert call["temperature"] == 0.0 and call["max_tokens"] >= 64


def test_completion_mode_and_code_template():
    llm = ScriptedLLM(lambda request: "x = 1")
    rw = Rewriter(RaidarConfig(prompt_set="code", chat=False), llm=llm)
    (rec,) = rw.rewrite(["x=1"])
    assert set(rec) == {"input", *CODE.prompts}
    assert llm.calls[0]["prompts"][0] == 'Revise the code with your best effort: "x=1" . No need to explain. Just write code:'


def test_long_texts_are_truncated_with_a_warning():
    text = " ".join(f"w{i}" for i in range(50))
    assert truncate_words(text, 10) == (" ".join(f"w{i}" for i in range(10)), 50)
    assert truncate_words("a  b", 10) == ("a  b", 2)
    llm = ScriptedLLM(lambda request: "short")
    rw = Rewriter(RaidarConfig(prompts=["P"], max_words=10), llm=llm)
    with pytest.warns(TruncationWarning, match="50 words is more than max_words=10"):
        (rec,) = rw.rewrite([text])
    assert rec["input"] == " ".join(f"w{i}" for i in range(10))


def test_backend_failure_is_named():
    rw = Rewriter(RaidarConfig(prompts=["P"], llm="myserver"), llm=ScriptedLLM(fail=ConnectionError("refused")))
    with pytest.raises(RewriteUnavailable, match="myserver.*refused"):
        rw.rewrite(["hello there"])


def test_missing_backend_names_the_fix(intarsia_host):
    import intarsia_raidar.plugin as plugin

    intarsia_host(plugin)  # only the core and raidar: no LLM backend registered
    rw = Rewriter(RaidarConfig(llm="gguf"))
    with pytest.raises(RewriteUnavailable, match=r"intarsia-raidar\[llm\]"):
        rw.rewrite(["hello there"])


def test_detector_on_plain_texts_uses_the_rewriter():
    # a "model" that keeps machine-looking texts (with "delve" in them) and changes half of other texts' words
    def answer(request):
        text = request.split(": ", 1)[1]
        return text if "delve" in text else " ".join(w if i % 2 else "zzz" for i, w in enumerate(text.split()))

    texts = [f"we delve into topic {i} with care and rigor today" for i in range(12)]
    texts += [f"went to the shop {i} and bought some milk yesterday" for i in range(12)]
    labels = [1] * 12 + [0] * 12
    det = RaidarDetector(RaidarConfig(prompts=["P1", "P2"]), llm=ScriptedLLM(answer)).fit(texts, labels)
    scores = det.score(["we delve into a new topic now", "bought bread at the shop"])
    assert scores[0] > 0.5 > scores[1]
    assert np.all((scores >= 0) & (scores <= 1))

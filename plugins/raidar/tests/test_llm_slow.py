"""End to end with the embedded local model (Gemma 3 270M through intarsia-llm's gguf backend)."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
from intarsia_raidar.config import RaidarConfig
from intarsia_raidar.detector import RaidarDetector
from intarsia_raidar.features import feature_names
from raidar_testdata import synthetic_records

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("intarsia_llm") is None or importlib.util.find_spec("llama_cpp") is None,
                       reason="needs intarsia-llm and llama-cpp-python (pip install 'intarsia-raidar[llm]')"),
]

TEXTS = [
    "The city council voted on Tuesday to extend the bus line to the new hospital, citing rising demand.",
    "Shares of the company fell sharply after it warned that profits would miss expectations this year.",
    "Local farmers say the late frost damaged much of the apple harvest across the valley.",
]


def test_rewrites_with_the_embedded_model_end_to_end(intarsia_host, tmp_path):
    import intarsia_llm.plugin as llm_plugin
    import intarsia_raidar.plugin as plugin

    intarsia_host(plugin, llm_plugin)
    prompts = ["Help me polish this", "Rewrite this for me", "Refine this for me please"]
    cfg = RaidarConfig(prompts=prompts, llm="gguf", llm_options={"cache_dir": str(tmp_path), "progress": False},
                       max_tokens=64)
    det = RaidarDetector(cfg)
    records = det.rewriter.rewrite(TEXTS)
    assert [r["input"] for r in records] == TEXTS
    for rec in records:
        assert set(rec) == {"input", *prompts}
        assert all(isinstance(rec[p], str) and rec[p].strip() for p in prompts), rec
        assert not any(rec[p].startswith(p + ":") for p in prompts), "echoed prompt not stripped"
    again = RaidarDetector(cfg).rewriter.rewrite(TEXTS)  # greedy decoding + the backend's cache
    assert again == records

    X = det.features(records)
    assert X.shape == (3, len(feature_names(prompts))) and np.isfinite(X).all()

    # a detector trained offline on records with these prompt keys scores the freshly rewritten texts
    train, labels = synthetic_records(15, prompts=prompts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = RaidarDetector(cfg).fit(train, labels).score(TEXTS)  # plain texts: rewritten (cached) again
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))

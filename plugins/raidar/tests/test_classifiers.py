"""Pickle-free models: the numbers exported to the model file reproduce the fitted estimator."""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest
from intarsia_raidar.classifiers import SafeModel, export, make_classifier


def _data(seed=0, n=300, d=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 - X[:, 2] * X[:, 3] + 0.3 * rng.normal(size=n) > 0.4).astype(int)
    return X, y


@pytest.mark.parametrize("name", ["logistic", "gbt", "mlp"])
def test_exported_model_matches_sklearn(name):
    X, y = _data()
    clf = make_classifier(name, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X[:200], y[:200])
    state = json.loads(json.dumps(export(name, clf)))  # through JSON, as the model file stores it
    np.testing.assert_allclose(SafeModel(state).predict_proba(X[200:]), clf.predict_proba(X[200:])[:, 1],
                               rtol=1e-9, atol=1e-12)
    # and the model learned something a constant guess cannot: accuracy well above the majority rate
    acc = ((SafeModel(state).predict_proba(X[200:]) >= 0.5) == y[200:]).mean()
    assert acc > max(y[200:].mean(), 1 - y[200:].mean()) + 0.1


@pytest.mark.skipif(importlib.util.find_spec("xgboost") is None, reason="xgboost not installed (optional)")
def test_xgboost_roundtrip():
    X, y = _data()
    clf = make_classifier("xgboost", seed=0).fit(X[:200], y[:200])
    state = json.loads(json.dumps(export("xgboost", clf)))
    np.testing.assert_allclose(SafeModel(state).predict_proba(X[200:]), clf.predict_proba(X[200:])[:, 1], rtol=1e-6)


def test_unknown_classifier_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown classifier 'svm'"):
        make_classifier("svm")
    with pytest.raises(ValueError, match="unknown classifier kind"):
        SafeModel({"kind": "pickle"})

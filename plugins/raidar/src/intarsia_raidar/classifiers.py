"""The classifiers on top of Raidar's features, and a pickle-free way to save and reload them.

Training uses scikit-learn (XGBoost when installed). Saving never pickles: each fitted model is
exported to plain numbers (coefficients, weight matrices, tree node arrays) that go into the JSON
model file, and :class:`SafeModel` evaluates them with numpy. Loading a model file therefore cannot
execute code, whoever wrote it. The tests check that a reloaded model gives the fitted estimator's
probabilities exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASSIFIERS = ("logistic", "gbt", "mlp", "xgboost")


def make_classifier(name: str, seed: int = 42, max_iter: int = 100):
    """A fresh estimator. Hyper-parameters follow the official scripts where they show one."""
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        # official: LogisticRegression() with its defaults (lbfgs, C=1, max_iter=100); ``max_iter`` raises
        # the cap for unscaled features, where lbfgs may stop before it converges
        return LogisticRegression(max_iter=max_iter, random_state=seed)
    if name == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=seed)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        # official (Yelp): one hidden layer of 10 ReLU units, adam, 1000 iterations, on standardised features
        return MLPClassifier(hidden_layer_sizes=(10,), activation="relu", solver="adam", max_iter=1000,
                             random_state=seed)
    if name == "xgboost":
        try:
            import xgboost
        except ImportError:
            raise ValueError("classifier 'xgboost' needs the xgboost package: pip install 'intarsia-raidar[xgboost]'") from None
        # official (News/Code): XGBClassifier(objective="binary:logistic", n_estimators=10, random_state=42)
        return xgboost.XGBClassifier(objective="binary:logistic", n_estimators=10, random_state=seed)
    raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for large |z|


def export(name: str, clf: Any) -> dict:
    """A fitted estimator as JSON-serialisable numbers."""
    if list(getattr(clf, "classes_", [0, 1])) != [0, 1]:
        raise ValueError(f"expected classes [0, 1], got {list(clf.classes_)}")
    if name == "logistic":
        return {"kind": "logistic", "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0])}
    if name == "mlp":
        if clf.out_activation_ != "logistic":
            raise ValueError(f"unexpected MLP output activation {clf.out_activation_!r}")
        return {"kind": "mlp", "activation": clf.activation, "weights": [w.tolist() for w in clf.coefs_],
                "biases": [b.tolist() for b in clf.intercepts_]}
    if name == "gbt":
        trees = []
        for est in clf.estimators_[:, 0]:
            t = est.tree_
            trees.append({"left": t.children_left.tolist(), "right": t.children_right.tolist(),
                          "feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
                          "value": t.value[:, 0, 0].tolist()})
        # the boosting's starting log-odds: the decision function minus the trees' contribution
        x0 = np.zeros((1, clf.n_features_in_))
        tree_sum = sum(float(_tree_predict(tr, x0)[0]) for tr in trees)
        init = float(clf.decision_function(x0)[0]) - clf.learning_rate * tree_sum
        return {"kind": "gbt", "init": init, "learning_rate": float(clf.learning_rate), "trees": trees}
    if name == "xgboost":
        raw = clf.get_booster().save_raw(raw_format="json")
        return {"kind": "xgboost", "booster_json": bytes(raw).decode("utf-8")}
    raise ValueError(f"unknown classifier {name!r}")


def _tree_predict(tree: dict, X: np.ndarray) -> np.ndarray:
    left, right = np.asarray(tree["left"]), np.asarray(tree["right"])
    feature, threshold = np.asarray(tree["feature"]), np.asarray(tree["threshold"], dtype=np.float64)
    value = np.asarray(tree["value"], dtype=np.float64)
    # scikit-learn compares float32 features with the stored thresholds: do the same for equal splits
    X = np.asarray(X, dtype=np.float32).astype(np.float64)
    node = np.zeros(len(X), dtype=np.int64)
    rows = np.arange(len(X))
    for _ in range(len(left)):
        inner = left[node] != -1
        if not inner.any():
            break
        go_left = X[rows, np.maximum(feature[node], 0)] <= threshold[node]
        node = np.where(inner, np.where(go_left, left[node], right[node]), node)
    return value[node]


class SafeModel:
    """Inference from exported numbers only (see :func:`export`)."""

    def __init__(self, state: dict):
        self.state = state
        kind = state.get("kind")
        if kind not in CLASSIFIERS:
            raise ValueError(f"unknown classifier kind {kind!r} in model file")
        self._booster = None
        if kind == "xgboost":
            try:
                import xgboost
            except ImportError:
                raise ValueError("this model file holds an XGBoost model: pip install xgboost to load it") from None
            self._booster = xgboost.Booster()
            self._booster.load_model(bytearray(state["booster_json"].encode("utf-8")))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(machine-generated) per row."""
        X = np.asarray(X, dtype=np.float64)
        s, kind = self.state, self.state["kind"]
        if kind == "logistic":
            return _sigmoid(X @ np.asarray(s["coef"]) + s["intercept"])
        if kind == "mlp":
            h = X
            weights = [np.asarray(w) for w in s["weights"]]
            biases = [np.asarray(b) for b in s["biases"]]
            act = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh, "logistic": _sigmoid,
                   "identity": lambda z: z}[s["activation"]]
            for w, b in zip(weights[:-1], biases[:-1], strict=True):
                h = act(h @ w + b)
            return _sigmoid(h @ weights[-1] + biases[-1])[:, 0]
        if kind == "gbt":
            raw = s["init"] + s["learning_rate"] * sum(_tree_predict(t, X) for t in s["trees"])
            return _sigmoid(raw)
        import xgboost

        return self._booster.predict(xgboost.DMatrix(X))

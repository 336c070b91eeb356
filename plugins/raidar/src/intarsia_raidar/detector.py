"""The Raidar detector: rewrite (or read precomputed rewrites), featurise, classify.

``fit``/``score`` take *items*: plain texts (rewritten through the configured LLM backend) or records
in the paper's format ``{"input": text, "<prompt>": rewrite, ...}`` (offline mode, no LLM). A detector
fitted on records uses the records' keys as its prompts, so the same code serves the prose prompts, the
code prompts, or any others a data set was made with.

Model files are JSON (config, prompts, scaler, classifier numbers) with a SHA-256 of their content;
nothing is unpickled on load (see :mod:`.classifiers`). A model file holds the classifier and feature
settings only, never where texts go: the LLM backend and its options (URL, key variable) come from the
command line or the caller. The digest has no secret, so anyone can edit a model file; one that names a
backend is refused unless the caller trusts it (``trust_model_llm``), and then its endpoint is shown.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .classifiers import SafeModel, export, make_classifier
from .config import RaidarConfig
from .features import INPUT_KEY, feature_names, features_matrix
from .rewrite import Rewriter
from .textio import InputError, Item, check_record, check_text

FORMAT = "intarsia-raidar-model/1"
_LLM_KEYS = ("llm", "llm_options")  # where texts (and API keys) go: never taken from a model file unasked


class ModelFileError(InputError):
    """A model file that is not a Raidar model, is corrupt, or was altered."""


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RaidarDetector:
    """Detects machine-generated text by how little an LLM changes it when asked to rewrite it."""

    def __init__(self, config: RaidarConfig | None = None, *, llm: Any = None):
        self.config = config or RaidarConfig()
        self.rewriter = Rewriter(self.config, llm)
        self.prompts: tuple[str, ...] | None = None  # fixed by fit (or load)
        self.scaler_mean: np.ndarray | None = None
        self.scaler_scale: np.ndarray | None = None
        self.model: SafeModel | None = None
        self.estimator: Any = None  # the fitted scikit-learn object (not saved)

    # ---------------------------------------------------------------------------- items -> features
    def _prompts_for(self, items: Sequence[Item]) -> tuple[str, ...]:
        if self.prompts is not None:
            return self.prompts
        for item in items:
            if isinstance(item, dict):
                return tuple(k for k in item if k != INPUT_KEY)
        return self.rewriter.prompts

    def records(self, items: Sequence[Item], where: Sequence[str] | None = None) -> list[dict[str, str]]:
        """Records for every item: records are checked, texts are rewritten (needs an LLM backend)."""
        items = list(items)
        where = list(where) if where is not None else [f"item {i}" for i in range(len(items))]
        prompts = self._prompts_for(items)
        out: list[dict[str, str] | None] = [None] * len(items)
        todo = []
        for i, (item, loc) in enumerate(zip(items, where, strict=True)):
            if isinstance(item, dict):
                check_record(item, loc)
                missing = [p for p in prompts if p not in item]
                if missing:
                    raise InputError(f"{loc}: no rewrite for prompt(s) {', '.join(map(repr, missing))}; this "
                                     f"detector uses {len(prompts)} prompts: {', '.join(map(repr, prompts))}")
                out[i] = {INPUT_KEY: item[INPUT_KEY], **{p: item[p] for p in prompts}}
            else:
                check_text(item, loc)
                todo.append(i)
        if todo:
            rewritten = self.rewriter.rewrite([items[i] for i in todo], [where[i] for i in todo], prompts)
            for i, rec in zip(todo, rewritten, strict=True):
                out[i] = rec
        return out  # type: ignore[return-value]

    def features(self, items: Sequence[Item], where: Sequence[str] | None = None) -> np.ndarray:
        recs = self.records(items, where)
        if not recs:
            raise InputError("no texts given")
        prompts = self._prompts_for(recs)
        for rec, loc in zip(recs, where or [f"item {i}" for i in range(len(recs))], strict=True):
            if not rec[INPUT_KEY].split():
                raise InputError(f"{loc}: the text has no words")
        c = self.config
        return features_matrix(recs, prompts, include_input=c.include_input, ngram_max=c.ngram_max,
                               round_similarities=c.round_similarities, similarity_processor=c.similarity_processor)

    @property
    def feature_names(self) -> list[str]:
        if self.prompts is None:
            raise RuntimeError("the detector is not fitted")
        return feature_names(self.prompts, self.config.include_input, self.config.ngram_max)

    # ------------------------------------------------------------------------------- fit / score
    def fit(self, texts: Sequence[Item], labels: Sequence[int], where: Sequence[str] | None = None) -> RaidarDetector:
        """Train on texts or records; labels are 1 for machine-generated, 0 for human."""
        self.prompts = None
        items = list(texts)
        prompts = self._prompts_for(items)
        X = self.features(items, where)
        self.prompts = prompts
        return self.fit_features(X, labels)

    def fit_features(self, X: np.ndarray, labels: Sequence[int]) -> RaidarDetector:
        """Train the classifier on precomputed features (what ``eval`` does per split)."""
        y = np.asarray(labels)
        if y.shape != (len(X),):
            raise ValueError(f"{len(X)} texts but {y.size} labels")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be 0 (human) or 1 (machine-generated)")
        if len(np.unique(y)) < 2:
            raise ValueError("training needs both human (0) and machine-generated (1) examples")
        y = y.astype(np.int64)
        if self.config.standardize:
            mean, scale = X.mean(axis=0), X.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)  # constant features (e.g. input vs itself) stay put
        else:
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        if self.config.class_weight == "balanced":
            counts = np.bincount(y, minlength=2)
            weight = (len(y) / (2.0 * counts))[y]
        elif self.config.class_weight == "none":
            weight = None
        else:
            raise ValueError(f"class_weight must be 'balanced' or 'none', got {self.config.class_weight!r}")
        clf = make_classifier(self.config.classifier, self.config.seed, self.config.max_iter)
        clf.fit((X - mean) / scale, y, sample_weight=weight)
        self.estimator = clf
        self.scaler_mean, self.scaler_scale = mean, scale
        self.model = SafeModel(export(self.config.classifier, clf))
        return self

    def score(self, texts: Sequence[Item], where: Sequence[str] | None = None) -> np.ndarray:
        """P(machine-generated) for each text or record."""
        if self.model is None:
            raise RuntimeError("the detector is not fitted: call fit() or load a model file")
        items = list(texts)
        if not items:
            return np.zeros(0)
        return self.score_features(self.features(items, where))

    def score_features(self, X: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("the detector is not fitted")
        return np.clip(self.model.predict_proba((X - self.scaler_mean) / self.scaler_scale), 0.0, 1.0)

    # ------------------------------------------------------------------------------- save / load
    def save(self, path: str | Path) -> None:
        if self.model is None:
            raise RuntimeError("nothing to save: the detector is not fitted")
        payload = {
            "format": FORMAT,
            "detector": "raidar",
            "config": {k: v for k, v in dataclasses.asdict(self.config).items() if k not in _LLM_KEYS},
            "prompts": list(self.prompts or ()),
            "feature_names": self.feature_names,
            "scaler": {"mean": self.scaler_mean.tolist(), "scale": self.scaler_scale.tolist()},
            "classifier": self.model.state,
        }
        payload["sha256"] = _digest(payload)
        try:
            Path(path).write_text(json.dumps(payload), encoding="utf-8")
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot write the model file: {exc.strerror or exc}") from None

    @classmethod
    def load(cls, path: str | Path, *, llm: Any = None, llm_name: str | None = None,
             llm_options: dict | None = None, trust_model_llm: bool = False) -> RaidarDetector:
        """Read a model file. The rewriting backend is ``llm`` (an object), else ``llm_name`` with
        ``llm_options`` (default: the embedded ``gguf`` model); a backend named in the file is refused
        unless ``trust_model_llm``, and then used (with a warning showing its endpoint)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read model file: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ModelFileError(f"{path}: not a Raidar model file (not UTF-8 JSON)") from None
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{path}: not a Raidar model file (not JSON: {exc})") from None
        except RecursionError:
            raise ModelFileError(f"{path}: not a Raidar model file (JSON nested too deeply)") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ModelFileError(f"{path}: not a Raidar model file (expected format {FORMAT!r})")
        expected = payload.pop("sha256", None)
        if expected != _digest(payload):
            raise ModelFileError(f"{path}: checksum mismatch: the model file is corrupt or was edited")
        known = {f.name for f in dataclasses.fields(RaidarConfig)}
        unknown = set(payload["config"]) - known
        if unknown:
            raise ModelFileError(f"{path}: unknown config keys {sorted(unknown)} (written by a newer version?)")
        config = dict(payload["config"])
        named = {k: config.pop(k) for k in _LLM_KEYS if k in config}
        defaults = RaidarConfig()
        if named and (named.get("llm", defaults.llm) != defaults.llm or named.get("llm_options") not in (None, {})):
            endpoint = _endpoint(named)
            if not trust_model_llm:
                raise ModelFileError(f"{path}: the model file names an LLM backend ({endpoint}); a model file must not "
                                     "choose where texts and keys go: pass --llm/--llm-option yourself, or "
                                     "--trust-model-llm to use it")
            import warnings

            warnings.warn(f"{path}: using the LLM backend the model file names: {endpoint}", stacklevel=2)
            llm_name, llm_options = named.get("llm", defaults.llm), dict(named.get("llm_options") or {})
        if llm_name is not None:
            config["llm"] = llm_name
        if llm_options is not None:
            config["llm_options"] = dict(llm_options)
        det = cls(RaidarConfig(**config), llm=llm)
        det.prompts = tuple(payload["prompts"])
        det.scaler_mean = np.asarray(payload["scaler"]["mean"], dtype=np.float64)
        det.scaler_scale = np.asarray(payload["scaler"]["scale"], dtype=np.float64)
        try:
            det.model = SafeModel(payload["classifier"])
        except (KeyError, ValueError) as exc:
            raise ModelFileError(f"{path}: bad classifier section: {exc}") from None
        if len(det.feature_names) != len(det.scaler_mean):
            raise ModelFileError(f"{path}: {len(det.scaler_mean)} scaler entries for {len(det.feature_names)} features")
        return det


def _endpoint(named: dict) -> str:
    """What a model file's backend section points at, for the refusal and the warning."""
    options = named.get("llm_options") or {}
    where = options.get("base_url") if isinstance(options, dict) else None
    parts = [f"llm={named.get('llm', 'gguf')!r}"]
    if where:
        from urllib.parse import urlsplit

        u = urlsplit(str(where))
        host = (u.hostname or "") + (f":{u.port}" if u.port else "")  # no user:password in the message
        parts.append(f"base_url={u._replace(netloc=host).geturl()!r}")
    if isinstance(options, dict) and options.get("api_key_env"):
        parts.append(f"api key from ${options['api_key_env']}")
    other = sorted(set(options) - {"base_url", "api_key_env"}) if isinstance(options, dict) else []
    if other:
        parts.append(f"options {other}")
    return ", ".join(parts)

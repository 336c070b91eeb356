"""``intarsia detect`` and ``intarsia raidar fit|eval``.

Only click is imported here; numpy, scikit-learn, rapidfuzz and matplotlib are imported inside the
command bodies so ``intarsia --help`` stays fast. User mistakes (bad files, missing backend, bad model
file) end as one-line ``click.ClickException`` messages, never tracebacks.
"""

from __future__ import annotations

import json
import sys
import warnings
from contextlib import contextmanager

import click

CLASSIFIER_CHOICES = ("logistic", "gbt", "mlp", "xgboost")


class UserError(click.ClickException):
    """A user mistake, shown as one line: exit code 2, as the core CLI's errors."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


def _writable_out(out: str) -> None:
    """Refuse an ``--out`` whose folder is missing before any work is done (fitting can take minutes)."""
    from pathlib import Path

    folder = Path(out).expanduser().parent
    if not folder.is_dir():
        raise UserError(f"--out {out}: the folder {str(folder)!r} does not exist; create it or choose another path")


@contextmanager
def _user_errors():
    """Turn the plugin's user-facing errors into click errors and show warnings as one line each."""
    from intarsia.errors import IntarsiaError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", module="sklearn")  # convergence chatter of the small MLP
        try:
            yield
        except (IntarsiaError, ValueError) as exc:
            raise UserError(str(exc)) from None
        finally:
            for w in caught:
                click.echo(f"warning: {w.message}", err=True)


def _parse_llm_options(pairs: tuple[str, ...]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--llm-option")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _config(classifier="logistic", include_input=True, class_weight="balanced", prompt_set="prose", llm="gguf",
            llm_option=(), max_words=500, seed=42):
    from .config import RaidarConfig

    return RaidarConfig(classifier=classifier, include_input=include_input, class_weight=class_weight,
                        prompt_set=prompt_set, llm=llm, llm_options=_parse_llm_options(llm_option),
                        max_words=max_words, seed=seed)


def _load_many(paths: tuple[str, ...], dedupe: bool = False, skip_invalid: bool = False):
    """Items and their locations from several files; ``dedupe`` drops repeated input texts;
    ``skip_invalid`` drops (with a warning) bad items and records lacking a prompt of the first record."""
    from .features import INPUT_KEY
    from .textio import load_items

    items, where, seen, skipped = [], [], set(), []
    for path in paths:
        loaded = load_items(path, skip_invalid=skip_invalid)
        skipped += loaded.skipped
        for item, loc in zip(loaded.items, loaded.where, strict=True):
            key = item[INPUT_KEY] if isinstance(item, dict) else item
            if dedupe and key in seen:
                continue
            seen.add(key)
            items.append(item)
            where.append(loc)
    if skip_invalid:
        first = next((it for it in items if isinstance(it, dict)), None)
        if first is not None:
            prompts = [k for k in first if k != INPUT_KEY]
            keep = [i for i, it in enumerate(items) if not isinstance(it, dict) or all(p in it for p in prompts)]
            kept = set(keep)
            skipped += [f"{where[i]}: lacks some of the prompts {prompts}" for i in range(len(items)) if i not in kept]
            items, where = [items[i] for i in keep], [where[i] for i in keep]
    if skipped:
        warnings.warn(f"skipped {len(skipped)} invalid item(s), e.g. {skipped[0]}", stacklevel=2)
    if not items:
        raise click.ClickException(f"no usable texts in {', '.join(paths)}")
    return items, where


def _model_options(f):
    """Options shared by ``fit`` and ``eval`` (how features are made and what classifies them)."""
    opts = [
        click.option("--human", "human", multiple=True, required=True, type=click.Path(),
                     help="File(s) of human-written texts (plain text, JSON lines, or the paper's JSON)."),
        click.option("--machine", "machine", multiple=True, required=True, type=click.Path(),
                     help="File(s) of machine-generated texts."),
        click.option("--classifier", type=click.Choice(CLASSIFIER_CHOICES), default="logistic", show_default=True),
        click.option("--include-input/--no-include-input", default=True, show_default=True,
                     help="Compare the input with itself as one more rewrite (the official code does)."),
        click.option("--class-weight", type=click.Choice(("balanced", "none")), default="balanced", show_default=True),
        click.option("--prompt-set", type=click.Choice(("prose", "code")), default="prose", show_default=True,
                     help="Rewrite prompts for plain-text inputs (records bring their own)."),
        click.option("--llm", default="gguf", show_default=True, help="intarsia-llm backend that rewrites plain texts."),
        click.option("--llm-option", multiple=True, metavar="KEY=VALUE", help="Option for the LLM backend (repeatable)."),
        click.option("--max-words", type=click.IntRange(min=1), default=500, show_default=True,
                     help="Longer texts are truncated (with a warning) before rewriting."),
        click.option("--dedupe/--no-dedupe", default=False, show_default=True,
                     help="Drop repeated texts within the inputs."),
        click.option("--skip-invalid", is_flag=True,
                     help="Skip (with a warning) empty texts, bad records and records missing a prompt, "
                          "instead of stopping."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def add_commands(cli: click.Group) -> None:
    cli.add_command(detect)
    cli.add_command(raidar)


@click.command()
@click.option("--model", "-m", "model_path", envvar="INTARSIA_RAIDAR_MODEL", type=click.Path(),
              help="Model file from `intarsia raidar fit` (default: $INTARSIA_RAIDAR_MODEL).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per text.")
@click.option("--llm", default="gguf", show_default=True, help="intarsia-llm backend that rewrites plain texts.")
@click.option("--llm-option", multiple=True, metavar="KEY=VALUE", help="Option for the LLM backend (repeatable).")
@click.option("--trust-model-llm", is_flag=True,
              help="Use the LLM backend a model file names (its URL, its API-key variable) instead of refusing it.")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def detect(model_path: str | None, as_json: bool, llm: str, llm_option: tuple[str, ...], trust_model_llm: bool,
           files: tuple[str, ...]) -> None:
    """Print the probability that each text in FILES is machine-generated (Raidar).

    A FILE is a plain text (one text), JSON lines / a JSON list of texts, or records in the paper's
    format with precomputed rewrites. A bad file is reported and skipped; the exit code is 1 if any was.
    """
    if not model_path:
        raise click.UsageError("no model: pass --model MODEL (made by `intarsia raidar fit`) or set INTARSIA_RAIDAR_MODEL")
    from intarsia.errors import IntarsiaError

    from .textio import load_items

    with _user_errors():
        from .detector import RaidarDetector

        det = RaidarDetector.load(model_path, llm_name=llm, llm_options=_parse_llm_options(llm_option),
                                  trust_model_llm=trust_model_llm)
    rows, failed = [], 0
    for path in files:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                loaded = load_items(path)
                scores = det.score(loaded.items, loaded.where)
            for w in caught:
                click.echo(f"warning: {w.message}", err=True)
        except (IntarsiaError, ValueError) as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            rows.append({"source": path, "probability": None, "error": str(exc)})
            continue
        for loc, item, p in zip(loaded.where, loaded.items, scores, strict=True):
            text = item["input"] if isinstance(item, dict) else item
            rows.append({"source": loc, "probability": float(p), "words": len(text.split())})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if row["probability"] is not None:
                click.echo(f"{row['probability']:.4f}\t{row['source']}")
    if failed:
        sys.exit(1)


@click.group()
def raidar() -> None:
    """Raidar (Mao et al., ICLR 2024): detect machine-generated text by rewriting it."""


@raidar.command()
@_model_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the model (JSON).")
@click.option("--seed", type=int, default=42, show_default=True, help="Classifier seed.")
def fit(human, machine, classifier, include_input, class_weight, prompt_set, llm, llm_option, max_words, dedupe,
        skip_invalid, out, seed) -> None:
    """Train a detector on human and machine-generated texts and save it."""
    _writable_out(out)
    with _user_errors():
        import numpy as np

        from .detector import RaidarDetector

        cfg = _config(classifier, include_input, class_weight, prompt_set, llm, llm_option, max_words, seed)
        h_items, h_where = _load_many(human, dedupe, skip_invalid)
        m_items, m_where = _load_many(machine, dedupe, skip_invalid)
        det = RaidarDetector(cfg)
        labels = np.r_[np.ones(len(m_items), dtype=int), np.zeros(len(h_items), dtype=int)]
        det.fit(m_items + h_items, labels, m_where + h_where)
        det.save(out)
    click.echo(f"saved {out}: {classifier} on {len(m_items)} machine + {len(h_items)} human texts, "
               f"{len(det.feature_names)} features, prompts: {', '.join(det.prompts)}")


@raidar.command("eval")
@_model_options
@click.option("--split", type=click.Choice(("paper", "kfold", "head")), default="paper", show_default=True,
              help="paper: per-class 80/20 split per seed; kfold: stratified k-fold per seed; head: first N of each class.")
@click.option("--seeds", type=click.IntRange(min=1), default=5, show_default=True, help="Number of seeds (splits).")
@click.option("--seed", type=int, default=42, show_default=True, help="First seed (the official scripts used 42).")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="k of --split kfold.")
@click.option("--head-n", type=click.IntRange(min=1), default=33, show_default=True, help="N of --split head.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default="raidar_roc.png", show_default=True,
              help="Where to write the ROC plot.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (keys f1, auroc, floor_f1, ...).")
def eval_(human, machine, classifier, include_input, class_weight, prompt_set, llm, llm_option, max_words, dedupe,
          skip_invalid, split, seeds, seed, folds, head_n, plot_path, as_json) -> None:
    """Evaluate over seeded splits: F1 (machine = positive), AUROC, and the all-positive F1 floor."""
    with _user_errors():
        from .detector import RaidarDetector
        from .evaluate import evaluate_features, plot_roc, summarize

        cfg = _config(classifier, include_input, class_weight, prompt_set, llm, llm_option, max_words, seed)
        h_items, h_where = _load_many(human, dedupe, skip_invalid)
        m_items, m_where = _load_many(machine, dedupe, skip_invalid)
        featuriser = RaidarDetector(cfg)
        featuriser.prompts = featuriser._prompts_for(m_items + h_items)
        X_m = featuriser.features(m_items, m_where)
        X_h = featuriser.features(h_items, h_where)
        results = evaluate_features(X_m, X_h, lambda: RaidarDetector(cfg), split=split,
                                    seeds=range(seed, seed + seeds), folds=folds, head_n=head_n)
        summary = summarize(results)
        plot_roc(results, plot_path, title=f"Raidar ({classifier}, {split})")
    summary.update({"classifier": classifier, "split": split, "n_machine": len(m_items), "n_human": len(h_items),
                    "prompts": list(featuriser.prompts), "include_input": include_input,
                    "class_weight": class_weight, "roc_plot": plot_path})
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"Raidar {classifier}, split={split}, {summary['n_splits']} split(s), "
               f"{len(m_items)} machine / {len(h_items)} human texts, {len(featuriser.prompts)} prompts")
    click.echo(f"  F1 (machine=positive) {100 * summary['f1']:.2f} ± {100 * summary['f1_std']:.2f}   "
               f"all-positive floor {100 * summary['floor_f1']:.2f}")
    click.echo(f"  AUROC {summary['auroc']:.4f} ± {summary['auroc_std']:.4f}   accuracy {100 * summary['accuracy']:.2f}")
    click.echo(f"  ROC plot: {plot_path}")


@raidar.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the records (the paper's JSON format).")
@click.option("--prompt-set", type=click.Choice(("prose", "code")), default="prose", show_default=True)
@click.option("--llm", default="gguf", show_default=True, help="intarsia-llm backend that rewrites.")
@click.option("--llm-option", multiple=True, metavar="KEY=VALUE", help="Option for the LLM backend (repeatable).")
@click.option("--max-words", type=click.IntRange(min=1), default=500, show_default=True,
              help="Longer texts are truncated (with a warning) before rewriting.")
def rewrite(files, out, prompt_set, llm, llm_option, max_words) -> None:
    """Rewrite the texts in FILES with every prompt and save them as records (offline input for fit/eval).

    Rewriting once and evaluating the saved records many times is how the paper worked; the LLM
    backend's own cache also makes a repeated rewrite free.
    """
    _writable_out(out)
    with _user_errors():
        from .rewrite import Rewriter

        items, where = _load_many(files)
        texts = [it["input"] if isinstance(it, dict) else it for it in items]
        rewriter = Rewriter(_config(prompt_set=prompt_set, llm=llm, llm_option=llm_option, max_words=max_words))
        records = rewriter.rewrite(texts, where)
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(records, fh, indent=1, ensure_ascii=False)
    click.echo(f"wrote {len(records)} records x {len(rewriter.prompts)} prompts to {out}")

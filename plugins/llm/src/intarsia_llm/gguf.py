"""``gguf``: GGUF models run in-process by llama-cpp-python (default: the embedded Gemma 3 270M)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .base import Completion, GenParams, LLMBackend
from .cache import default_cache_dir
from .config import GGUFConfig
from .errors import BackendUnavailableError, ContextLengthError, LLMError
from .model_files import embedded_model_path
from .native_probe import ModelLoadError, choose_extra_buffer_types, model_params_without_extra_buffer_types
from .templates import resolve_template, strip_bos


def _check_gguf_file(path: Path) -> None:
    """Fail with one line before llama.cpp sees a missing, empty or non-GGUF file."""
    if not path.exists():
        raise ModelLoadError(f"gguf model_path {str(path)!r} does not exist; give the path of a .gguf file, or "
                             "leave model_path empty for the embedded Gemma 3 270M")
    if not path.is_file():
        raise ModelLoadError(f"gguf model_path {str(path)!r} is not a file")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read gguf model_path {str(path)!r}: {exc.strerror}") from None
    if magic != b"GGUF":
        raise ModelLoadError(f"gguf model_path {str(path)!r} is not a GGUF file (it does not start with 'GGUF'); "
                             "give a .gguf model file (a transformers folder needs the transformers backend)")


def _import_llama():
    try:
        import llama_cpp
    except ImportError:
        raise BackendUnavailableError(
            "the gguf backend needs llama-cpp-python: pip install 'intarsia-llm[gguf]' "
            "(it compiles from source, ~10 minutes on 2 cores; pip caches the wheel afterwards)") from None
    return llama_cpp


# ggml's log levels (ggml.h): NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the previous line)
_GGML_ERROR, _GGML_CONT = 4, 5
_native_log = {"verbose": False, "last": 0, "callback": None}


def _log_native(level: int, text: bytes, _user_data) -> None:
    # llama-cpp-python's own callback maps these levels with an older enum (WARN read as ERROR), so with
    # verbose=False it still prints warnings such as "llama_kv_cache_iswa: using full-size SWA cache"
    level = _native_log["last"] if level == _GGML_CONT else level
    _native_log["last"] = level
    if _native_log["verbose"] or level == _GGML_ERROR:
        print(text.decode("utf-8", "replace"), end="", flush=True, file=sys.stderr)


def _route_native_logs(llama_cpp, verbose: bool) -> None:
    """Send llama.cpp's log lines through :func:`_log_native`: all of them with ``verbose``, else errors only.
    The process has one llama.cpp logger, so the last model loaded decides."""
    import ctypes

    _native_log["verbose"] = bool(verbose)
    if _native_log["callback"] is None:  # ctypes must keep the callback object alive as long as llama.cpp holds it
        _native_log["callback"] = llama_cpp.llama_log_callback(_log_native)
    llama_cpp.llama_log_set(_native_log["callback"], ctypes.c_void_p(0))


class GGUFLLM(LLMBackend):
    """A llama.cpp model. One sequence at a time (llama-cpp-python's high-level API has no batching)."""

    backend_name = "gguf"

    def __init__(self, config: GGUFConfig | None = None):
        config = config or GGUFConfig()
        super().__init__(config)
        llama_cpp = _import_llama()
        self._llama_cpp = llama_cpp
        path = Path(config.model_path).expanduser() if config.model_path else embedded_model_path(config.models_dir)
        _check_gguf_file(path)
        self.model_path = path
        # About one thread per physical core: llama.cpp slows down sharply when its threads compete.
        threads = config.n_threads or min(4, max(1, (os.cpu_count() or 2) // 2))
        if config.probe:
            cache_dir = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
            self.extra_buffer_types = choose_extra_buffer_types(
                path, setting=config.extra_buffer_types, n_threads=threads, cache_dir=cache_dir)
        elif config.extra_buffer_types in ("auto", "on", "off"):
            self.extra_buffer_types = config.extra_buffer_types != "off"  # unprobed, "auto" means "on"
        else:
            raise LLMError(f"gguf extra_buffer_types must be 'auto', 'on' or 'off', not {config.extra_buffer_types!r}")
        if config.n_gpu_layers and not _can_offload(llama_cpp):
            # llama.cpp silently keeps every layer on the CPU when the build has no GPU backend
            print(f"warning: gguf n_gpu_layers={config.n_gpu_layers}, but this llama-cpp-python build cannot offload to "
                  "a GPU: the model runs on the CPU (rebuild it with GPU support, e.g. "
                  "`make llama-wheel LLAMA_CMAKE_ARGS=-DGGML_CUDA=on`)", file=sys.stderr)
        guard = (contextlib.nullcontext() if self.extra_buffer_types
                 else model_params_without_extra_buffer_types(llama_cpp))
        _route_native_logs(llama_cpp, config.verbose)
        try:
            with guard:
                self._llm = llama_cpp.Llama(
                    model_path=str(path), n_ctx=config.n_ctx, n_threads=threads, n_batch=config.n_batch,
                    n_gpu_layers=config.n_gpu_layers, seed=config.seed, verbose=config.verbose,
                    logits_all=False,  # all-position logits would cost n_ctx × 262k floats; we read the last row
                )
        except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
            raise ModelLoadError(f"llama.cpp cannot load gguf model_path {str(path)!r} ({exc}): it is damaged, cut "
                                 "short or of an architecture this llama-cpp-python does not know") from None
        meta = self._llm.metadata
        self._bos_text = self._token_text(self._llm.token_bos())
        self.template = resolve_template(
            config.chat_template, own=meta.get("tokenizer.chat_template"),
            bos_token=self._bos_text, eos_token=self._token_text(self._llm.token_eos()))
        self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "true") != "false"
        # Name + size identify the weights without hashing the file on every load.
        # Repacked weights (extra buffer types) round differently: greedy answers can differ, so the
        # setting is part of the identity the answer cache keys on.
        self._model_id = f"{path.name}:{path.stat().st_size}" + (":xbuf" if self.extra_buffer_types else "")

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm._model.token_get_text(token) if hasattr(self._llm, "_model") else ""

    def tokenize(self, text: str) -> list[int]:
        """Token ids of a rendered prompt, with BOS as the model wants it (once)."""
        body, had_bos = strip_bos(text, self._bos_text)
        return self._llm.tokenize(body.encode("utf-8"), add_bos=self._add_bos or had_bos, special=True)

    def count_tokens(self, prompt) -> int:
        """Tokens of a prompt after rendering (lets callers truncate texts to the context)."""
        return len(self.tokenize(self.render(prompt)))

    def _check_fits(self, tokens: list[int], extra: int) -> None:
        if len(tokens) + extra > self.n_ctx:
            raise ContextLengthError(
                f"prompt of {len(tokens)} tokens + {extra} does not fit the context window of {self.n_ctx} "
                f"tokens (config n_ctx); shorten the prompt or raise n_ctx")

    def _generate(self, jobs, params: GenParams) -> Iterator[tuple[int, Completion]]:
        for i, text in jobs:
            tokens = self.tokenize(text)
            self._check_fits(tokens, 1)
            max_tokens = min(params.max_tokens, self.n_ctx - len(tokens))
            if not self.config.reuse_prefix:
                self._llm.reset()
            out = self._llm.create_completion(
                tokens, max_tokens=max_tokens, temperature=params.temperature, top_p=params.top_p,
                # OpenAI semantics: only temperature and top_p shape sampling.
                top_k=0, min_p=0.0, repeat_penalty=1.0,
                stop=list(params.stop) or None, seed=params.seed if params.seed is not None else self.config.seed,
            )
            usage = out.get("usage", {})
            yield i, Completion(out["choices"][0]["text"], usage.get("prompt_tokens", len(tokens)),
                                usage.get("completion_tokens", 0))

    def _eval_prompt(self, tokens: list[int]) -> None:
        """Evaluate a prompt, reusing the KV cache of a shared prefix when ``reuse_prefix`` is on."""
        keep = 0
        if self.config.reuse_prefix:
            current = self._llm.input_ids[:self._llm.n_tokens]
            limit = min(len(current), len(tokens) - 1)  # evaluate at least one token for fresh logits
            while keep < limit and current[keep] == tokens[keep]:
                keep += 1
        if keep == 0:
            self._llm.reset()
        self._llm.n_tokens = keep  # eval() drops the KV entries past n_tokens
        self._llm.eval(tokens[keep:])

    def _last_logprobs(self) -> np.ndarray:
        """Log-softmax of the logits after the last evaluated token."""
        n_vocab = self._llm.n_vocab()
        ptr = self._llama_cpp.llama_get_logits_ith(self._llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
        return logits - np.logaddexp.reduce(logits)

    def _continuation(self, prompt_tokens: list[int], text: str, option: str) -> list[int]:
        # As lm-eval-harness does: tokenize prompt+option together and keep what follows the prompt's
        # tokens, so the option is tokenized as the model would see it in running text.
        whole = self.tokenize(text + option)
        if whole[:len(prompt_tokens)] == prompt_tokens and len(whole) > len(prompt_tokens):
            return whole[len(prompt_tokens):]
        return self._llm.tokenize(option.encode("utf-8"), add_bos=False, special=False)

    def _option_logprobs(self, jobs, options: Sequence[str]) -> Iterator[tuple[int, list[float]]]:
        for i, text in jobs:
            tokens = self.tokenize(text)
            conts = [self._continuation(tokens, text, o) for o in options]
            self._check_fits(tokens, max(len(c) for c in conts))
            self._eval_prompt(tokens)
            first = self._last_logprobs()
            scores = []
            for cont in conts:
                total = float(first[cont[0]])
                for k in range(1, len(cont)):
                    # Rewind to the end of the prompt plus the option's first k tokens; eval() drops the
                    # KV entries past n_tokens, so the prompt is evaluated only once per prompt.
                    self._llm.n_tokens = len(tokens) + k - 1
                    self._llm.eval([cont[k - 1]])
                    total += float(self._last_logprobs()[cont[k]])
                scores.append(total)
            yield i, scores


def _can_offload(llama_cpp) -> bool:
    check = getattr(llama_cpp, "llama_supports_gpu_offload", None)
    try:
        return bool(check()) if check is not None else True  # an older binding: nothing to check with
    except Exception:  # a binding whose symbol is missing from the library
        return True

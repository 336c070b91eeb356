"""``transformers``: a Hugging Face causal LM from a local directory (batched, left-padded)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from .base import Completion, GenParams, LLMBackend
from .config import TransformersConfig
from .errors import BackendUnavailableError, ContextLengthError
from .templates import resolve_template, strip_bos


class TransformersLLM(LLMBackend):
    backend_name = "transformers"

    def __init__(self, config: TransformersConfig):
        super().__init__(config)
        try:
            import torch
            import transformers
        except ImportError:
            raise BackendUnavailableError(
                "the transformers backend needs transformers: pip install 'intarsia-llm[transformers]'") from None
        if not config.model_path:
            raise ValueError("the transformers backend needs model_path: a local directory saved with save_pretrained")
        path = Path(config.model_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"transformers model_path {str(path)!r} is not a directory")
        self._torch = torch
        self.device = torch.device(config.device if config.device != "auto"
                                   else ("cuda" if torch.cuda.is_available() else "cpu"))
        if config.dtype == "auto":
            dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        else:
            dtype = getattr(torch, config.dtype)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(
            path, local_files_only=True, trust_remote_code=config.trust_remote_code)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, dtype=dtype, trust_remote_code=config.trust_remote_code,
        ).to(self.device).eval()
        import inspect

        # transformers' causal LMs take logits_to_keep (the last N positions only); remote code may not
        self._keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        tok = self.tokenizer
        self._bos_text = tok.bos_token or ""
        self._pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.template = resolve_template(config.chat_template, own=getattr(tok, "chat_template", None),
                                         bos_token=self._bos_text, eos_token=tok.eos_token or "")
        self._model_id = f"{path.resolve().name}:{_weights_fingerprint(path)}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def tokenize(self, text: str) -> list[int]:
        body, had_bos = strip_bos(text, self._bos_text)
        ids = self.tokenizer(body, add_special_tokens=False)["input_ids"]
        # Add BOS once when the tokenizer would (or the template asked for it).
        wants_bos = had_bos or (getattr(self.tokenizer, "add_bos_token", False) and self.tokenizer.bos_token_id is not None)
        return ([self.tokenizer.bos_token_id] if wants_bos else []) + list(ids)

    def count_tokens(self, prompt) -> int:
        return len(self.tokenize(self.render(prompt)))

    def _left_pad(self, seqs: list[list[int]]):
        torch = self._torch
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[row, width - len(s):] = 1
        return ids.to(self.device), mask.to(self.device)

    def _generate(self, jobs, params: GenParams) -> Iterator[tuple[int, Completion]]:
        torch = self._torch
        size = max(1, self.config.batch_size)
        for start in range(0, len(jobs), size):
            chunk = jobs[start:start + size]
            seqs = [self.tokenize(text) for _, text in chunk]
            longest = max(len(s) for s in seqs)
            if longest + 1 > self.config.max_length:
                raise ContextLengthError(f"prompt of {longest} tokens does not fit max_length={self.config.max_length}")
            ids, mask = self._left_pad(seqs)
            kwargs = dict(max_new_tokens=min(params.max_tokens, self.config.max_length - longest),
                          pad_token_id=self._pad_id, attention_mask=mask)
            if params.temperature > 0:
                torch.manual_seed(params.seed if params.seed is not None else self.config.seed)
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if params.stop:
                kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
            with torch.inference_mode():
                out = self.model.generate(ids, **kwargs)
            new = out[:, ids.shape[1]:]
            for (i, _), row, seq in zip(chunk, new, seqs):
                tokens = row.tolist()
                eos = set(_as_list(self.model.generation_config.eos_token_id)) | {self._pad_id}
                n = next((k for k, t in enumerate(tokens) if t in eos), len(tokens))
                text = _cut_at_stop(self.tokenizer.decode(tokens[:n], skip_special_tokens=True), params.stop)
                yield i, Completion(text, len(seq), n)

    def _option_logprobs(self, jobs, options: Sequence[str]) -> Iterator[tuple[int, list[float]]]:
        torch = self._torch
        size = max(1, self.config.batch_size)
        for start in range(0, len(jobs), size):
            chunk = jobs[start:start + size]
            rows, spans = [], []  # spans[(job, option)] = (row, first continuation position, length)
            for _, text in chunk:
                prompt = self.tokenize(text)
                for option in options:
                    whole = self.tokenize(text + option)
                    cont = (whole[len(prompt):] if whole[:len(prompt)] == prompt and len(whole) > len(prompt)
                            else self.tokenizer(option, add_special_tokens=False)["input_ids"])
                    spans.append((len(rows), len(prompt), len(cont)))
                    rows.append(prompt + list(cont))
            if max(len(r) for r in rows) > self.config.max_length:
                raise ContextLengthError(f"prompt + option exceeds max_length={self.config.max_length}")
            ids, mask = self._left_pad(rows)
            # Positions count real tokens only, so a left-padded row scores as it would alone.
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
            # Rows are left-padded, so every continuation ends at the last position and is predicted by the
            # last n_cont + 1 positions: only those logits are needed (a full-width fp32 log-softmax over a
            # 262k vocabulary is tens of GB at 16 rows x 1k tokens).
            keep = max(n for _, _, n in spans) + 1
            extra = {"logits_to_keep": keep} if self._keeps_logits else {}
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=position_ids, **extra).logits
            width = ids.shape[1]
            first = width - logits.shape[1]  # absolute position of logits[:, 0]
            scores = []
            for row, n_prompt, n_cont in spans:
                pad = width - len(rows[row])
                # Token at position p is predicted by the logits at p-1.
                positions = torch.arange(pad + n_prompt, pad + n_prompt + n_cont, device=logits.device)
                targets = ids[row, positions]
                logp = torch.log_softmax(logits[row, positions - 1 - first].float(), dim=-1)
                scores.append(float(logp.gather(-1, targets[:, None]).sum()))
            for k, (i, _) in enumerate(chunk):
                yield i, scores[k * len(options):(k + 1) * len(options)]


def _as_list(x) -> list[int]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return text[:cut] if cut >= 0 else text


def _weights_fingerprint(path: Path) -> str:
    """Sizes and mtimes of the weight files: changes when the checkpoint is replaced, cheap to compute."""
    import hashlib

    digest = hashlib.sha256()
    for f in sorted(path.glob("*")):
        if f.suffix in {".safetensors", ".bin", ".json", ".model"}:
            st = f.stat()
            digest.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]

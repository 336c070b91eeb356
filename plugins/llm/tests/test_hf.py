"""The transformers backend on a tiny random Llama saved to a temp dir (no hub access)."""

from __future__ import annotations

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from intarsia.testing import LLMContract  # noqa: E402
from intarsia_llm.config import TransformersConfig  # noqa: E402
from intarsia_llm.hf import TransformersLLM  # noqa: E402

CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A byte-level tokenizer (256 bytes + specials) and a 2-layer random Llama, saved like a checkpoint."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    torch.manual_seed(0)
    specials = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(specials + sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                                pad_token="<pad>", additional_special_tokens=specials[3:])
    fast.chat_template = CHATML
    cfg = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                                   bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = transformers.LlamaForCausalLM(cfg)
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def make(path, tmp_path=None, **kw):
    return TransformersLLM(TransformersConfig(model_path=str(path), cache=tmp_path is not None,
                                              cache_dir=str(tmp_path or ""), progress=False, device="cpu", **kw))


class TestTransformersContract(LLMContract):
    @pytest.fixture(autouse=True)
    def _dir(self, tiny_model_dir):
        self.path = tiny_model_dir

    def make_llm(self):
        return make(self.path, batch_size=2)


def test_uses_the_tokenizers_own_chat_template(tiny_model_dir):
    llm = make(tiny_model_dir)
    assert llm.template.name == "model"
    assert llm.render([{"role": "user", "content": "hi"}]) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_batched_greedy_generation_equals_one_by_one(tiny_model_dir):
    prompts = ["a", "hello there", "xyz", "a much longer prompt than the others"]
    batched = make(tiny_model_dir, batch_size=4).generate(prompts, max_tokens=6)
    single = make(tiny_model_dir, batch_size=1).generate(prompts, max_tokens=6)
    assert batched == single and all(len(t) > 0 for t in batched)


def test_option_scoring_computes_logits_for_the_continuation_positions_only(tiny_model_dir):
    """A full-width fp32 log-softmax over the vocabulary would cost ~42 GB for a 262k vocabulary at 16 x 1k
    tokens: the model is asked for the last few positions, and the scores do not change."""
    llm = make(tiny_model_dir, batch_size=4)
    prompts = ["a prompt of a dozen or more tokens, padded on the left", "short"]
    full = llm.option_logprobs(prompts, ["1", "None"])
    widths, forward = [], llm.model.forward

    def spy(*args, **kwargs):
        out = forward(*args, **kwargs)
        widths.append((kwargs["input_ids"].shape[1], out.logits.shape[1]))
        return out

    again = make(tiny_model_dir, batch_size=4)
    again.model.forward = spy
    assert np.allclose(again.option_logprobs(prompts, ["1", "None"]), full)
    assert widths and all(kept < width for width, kept in widths), widths


def test_option_logprobs_match_a_manual_forward_pass(tiny_model_dir):
    llm = make(tiny_model_dir, batch_size=3)
    prompts = ["short", "a somewhat longer prompt"]
    options = ["1", "None"]
    lp = llm.option_logprobs(prompts, options)
    for p, prompt in enumerate(prompts):
        for o, option in enumerate(options):
            ctx = llm.tokenize(prompt)
            full = llm.tokenize(prompt + option)
            with torch.no_grad():
                logits = llm.model(torch.tensor([full])).logits[0].float()
            logp = torch.log_softmax(logits, -1)
            manual = sum(float(logp[k - 1, full[k]]) for k in range(len(ctx), len(full)))
            assert lp[p, o] == pytest.approx(manual, abs=1e-4)


def test_sampling_is_seeded(tiny_model_dir):
    llm = make(tiny_model_dir)
    a = llm.generate(["abc"], max_tokens=8, temperature=1.0, seed=3)
    b = llm.generate(["abc"], max_tokens=8, temperature=1.0, seed=3)
    assert a == b


def test_missing_directory_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        make(tmp_path / "nope")
    with pytest.raises(ValueError, match="model_path"):
        TransformersLLM(TransformersConfig())


def test_cache_is_used(tiny_model_dir, tmp_path):
    llm = make(tiny_model_dir, tmp_path)
    out = llm.generate(["abc"], max_tokens=4)
    assert make(tiny_model_dir, tmp_path).generate(["abc"], max_tokens=4) == out
    lp = llm.option_logprobs(["abc"], ["1", "2"])
    assert np.array_equal(make(tiny_model_dir, tmp_path).option_logprobs(["abc"], ["1", "2"]), lp)

import pytest
from intarsia_llm.templates import BUILTIN, PromptError, resolve_template, strip_bos

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye?"}]


def test_gemma_folds_system_into_first_user_turn():
    text = BUILTIN["gemma"].render(CHAT)
    assert text == ("<start_of_turn>user\nBe brief.\n\nHi?<end_of_turn>\n"
                    "<start_of_turn>model\nHello.<end_of_turn>\n"
                    "<start_of_turn>user\nBye?<end_of_turn>\n<start_of_turn>model\n")


def test_chatml_and_plain_and_llama3():
    assert BUILTIN["chatml"].render(CHAT[:2]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n")
    assert BUILTIN["plain"].render(CHAT) == "Be brief.\n\nUser: Hi?\nAssistant: Hello.\nUser: Bye?\nAssistant:"
    assert BUILTIN["llama3"].render(CHAT[1:2]).endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_auto_prefers_the_models_own_template_and_falls_back_to_plain():
    own = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
    assert resolve_template("auto", own=own).render(CHAT[:2]) == "[system]Be brief.[user]Hi?[assistant]"
    assert resolve_template("auto", own=None).name == "plain"


def test_custom_jinja_gets_bos_and_can_raise():
    tpl = resolve_template("{{ bos_token }}{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}"
                           "{% endif %}{{ messages[0].content }}", bos_token="<s>")
    assert tpl.render([{"role": "user", "content": "x"}]) == "<s>x"
    with pytest.raises(Exception, match="user first"):
        tpl.render(CHAT)
    assert strip_bos("<s>x", "<s>") == ("x", True) and strip_bos("x", "<s>") == ("x", False)


@pytest.mark.parametrize("bad", [[], [{"role": "robot", "content": "x"}], [{"content": "x"}],
                                 [{"role": "user", "content": 3}], "not a list"])
def test_malformed_messages_are_clear_errors(bad):
    with pytest.raises(PromptError):
        BUILTIN["plain"].render(bad)


def test_unknown_template_name_lists_choices():
    with pytest.raises(PromptError, match="gemma"):
        resolve_template("gemmma")

import pytest
from intarsia_motif import prompts as P


def test_default_prompt_has_the_paper_structure():
    goal = P.goal_text("NetHack", "default")
    chat = P.render_chat("You kill the newt!", "It's a wall.", game="NetHack", goal=goal)
    assert [m["role"] for m in chat] == ["system", "user"]
    assert "judge" in chat[0]["content"] and "NetHack" in chat[0]["content"]
    user = chat[1]["content"]
    # goal, both captions in order, the answer format
    assert goal in user
    assert user.index("You kill the newt!") < user.index("It's a wall.")
    assert '"description_1"' in user and '"description_2"' in user
    assert '("best_description": 1)' in user and '("best_description": None)' in user


def test_zero_knowledge_and_steering_goals():
    assert P.goal_text("NetHack", "zeroknowledge") == ""
    zk = P.render_user_prompt("a", "b", game="NetHack", goal="")
    assert "Prefer" not in zk and " \n" not in zk
    steer = P.goal_text("NetHack", "custom", "Prefer agents that collect gold.")
    assert "collect gold" in P.render_user_prompt("a", "b", goal=steer)
    with pytest.raises(ValueError):
        P.goal_text("NetHack", "custom", "")
    with pytest.raises(ValueError):
        P.goal_text("NetHack", "bogus")


def test_reworded_style_uses_its_own_key():
    user = P.render_user_prompt("a", "b", style="reworded")
    assert '("best_message": 2)' in user and '"message_1"' in user
    assert P.parse_answer('("best_message": 2)', "reworded") == P.SECOND
    assert P.parse_answer('("best_description": 2)', "reworded") is None


def test_retry_extends_the_conversation():
    chat = P.render_chat("a", "b")
    retry = P.render_retry(chat, "I think both are fine.")
    assert retry[:2] == chat
    assert retry[2] == {"role": "assistant", "content": "I think both are fine."}
    assert retry[3]["role"] == "user" and "best_description" in retry[3]["content"]


def test_scoring_prompt_ends_where_the_digit_goes():
    s = P.render_scoring_prompt("x", "y")
    assert s.endswith('("best_description": ')


@pytest.mark.parametrize("text,label", [
    ('Analysis... Finally: ("best_description": 1)', P.FIRST),
    ('("best_description": 2)', P.SECOND),
    ('"best_description": None', P.TIE),
    ("best description: 2", P.SECOND),
    ("BEST_DESCRIPTION = 1", P.FIRST),
    ('{"best_description": "2"}', P.SECOND),
    ("best_description: null", P.TIE),
    ("Best description is 1.", P.FIRST),
])
def test_parse_well_formed_answers(text, label):
    assert P.parse_answer(text) == label


@pytest.mark.parametrize("text", [
    "", None, "I prefer the first one.", "best_description: 3", '("best_description": )', "description 1",
    "best_description: 12", 42,
])
def test_parse_malformed_answers(text):
    assert P.parse_answer(text) is None


def test_flip():
    assert P.flip(P.FIRST) == P.SECOND and P.flip(P.SECOND) == P.FIRST
    assert P.flip(P.TIE) == P.TIE and P.flip(P.UNKNOWN) == P.UNKNOWN

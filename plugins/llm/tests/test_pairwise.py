import numpy as np
import pytest
from intarsia_llm.pairwise import option_probs, pairwise_option_probs


class BiasedJudge:
    """Prefers the first position by `bias` (log-odds) on top of a real preference for longer captions."""

    def __init__(self, bias: float, tie_logit: float = -3.0):
        self.bias, self.tie = bias, tie_logit
        self.prompts = []

    def option_logprobs(self, prompts, options):
        self.prompts += prompts
        rows = []
        for first, second in prompts:
            merit = 0.5 * (len(first) - len(second))
            logits = np.array([self.bias + merit, 0.0, self.tie])[:len(options)]
            rows.append(logits - np.logaddexp.reduce(logits))
        return np.array(rows)


def render(a, b):
    return (a, b)


def test_both_orders_remove_a_pure_position_bias():
    judge = BiasedJudge(bias=3.0)
    probs = pairwise_option_probs(judge, render, [("ab", "cd")], options=("1", "2", "None"))
    assert judge.prompts == [("ab", "cd"), ("cd", "ab")]
    assert probs.shape == (1, 3) and np.isclose(probs.sum(), 1.0)
    assert np.isclose(probs[0, 0], probs[0, 1])  # equal merit: the bias cancels
    one_order = pairwise_option_probs(judge, render, [("ab", "cd")], options=("1", "2", "None"), both_orders=False)
    assert one_order[0, 0] > 0.9


def test_real_preference_survives_and_maps_the_swapped_order():
    judge = BiasedJudge(bias=2.0)
    probs = pairwise_option_probs(judge, render, [("long caption", "x"), ("x", "long caption")])
    assert probs[0, 0] > probs[0, 1]   # a is better
    assert probs[1, 1] > probs[1, 0]   # b is better
    assert np.allclose(probs[0], probs[1][::-1])


def test_option_probs_and_edge_cases():
    p = option_probs(np.log([[0.2, 0.6]]))
    assert np.allclose(p, [[0.25, 0.75]])
    assert pairwise_option_probs(BiasedJudge(0.0), render, []).shape == (0, 2)
    with pytest.raises(ValueError):
        pairwise_option_probs(BiasedJudge(0.0), render, [("a", "b")], options=("1",))


def test_the_public_api_keeps_each_order_apart_for_order_consistency():
    import intarsia_llm

    assert {"option_probs", "pairwise_option_probs", "pairwise_order_probs"} <= set(intarsia_llm.__all__)
    judge = BiasedJudge(bias=3.0)
    forward, swapped = intarsia_llm.pairwise_order_probs(judge, render, [("ab", "cd")])
    assert judge.prompts == [("ab", "cd"), ("cd", "ab")]  # one call for both orders
    # a pure position bias: each order favours whichever item is shown first, so the orders disagree
    assert forward[0, 0] > 0.9 and swapped[0, 1] > 0.9
    averaged = intarsia_llm.pairwise_option_probs(BiasedJudge(bias=3.0), render, [("ab", "cd")])
    assert np.allclose(averaged, (forward + swapped) / 2)
    with pytest.raises(AttributeError, match="no attribute 'pairwise_probs'"):
        intarsia_llm.pairwise_probs  # noqa: B018

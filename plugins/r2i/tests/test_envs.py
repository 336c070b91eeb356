"""Environment semantics: BSuite memory_length / discounting_chain, the POPGym adapter."""

import numpy as np
import pytest
from intarsia_r2i.envs.bsuite import DiscountingChainEnv, MemoryLengthEnv


def _run(env, policy, episodes, seed=0):
    succ, lengths = [], []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        cue, n = None, 0
        while True:
            if cue is None:
                cue = obs[2:].copy()
            obs, r, term, trunc, info = env.step(policy(obs, cue))
            n += 1
            assert isinstance(info["caption"], str)
            if term or trunc:
                succ.append(info["success"])
                lengths.append(n)
                assert r in (1.0, -1.0)
                break
            assert r == 0.0
    return np.array(succ), lengths


@pytest.mark.parametrize("L,bits", [(1, 1), (10, 1), (30, 3)])
def test_memory_length_semantics(L, bits):
    env = MemoryLengthEnv(L, bits)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (bits + 2,) and obs[0] == 1.0 and set(np.abs(obs[2:])) == {1.0}
    # the cue is shown only at t=0; the query only at the last step
    for t in range(1, L + 1):
        obs, *_ = env.step(0)
        assert obs[0] == pytest.approx(1 - t / L) and not obs[2:].any()
    oracle = lambda obs, cue: int(cue[int(obs[1])] > 0)  # noqa: E731
    succ, lengths = _run(env, oracle, 20)
    assert succ.all() and set(lengths) == {L + 1}
    wrong = lambda obs, cue: 1 - int(cue[int(obs[1])] > 0)  # noqa: E731
    assert not _run(env, wrong, 20)[0].any()
    rng = np.random.default_rng(0)
    rand, _ = _run(env, lambda o, c: int(rng.integers(2)), 400)
    assert 0.4 < rand.mean() < 0.6  # chance is one half


def test_discounting_chain():
    env = DiscountingChainEnv(mapping_seed=3)
    total = {}
    for a in range(5):
        env.reset()
        ret, n = 0.0, 0
        while True:
            obs, r, term, trunc, info = env.step(a)
            ret += r
            n += 1
            if term:
                break
        assert n == 100 and info["success"] == (a == env.best)
        total[a] = ret
    assert max(total, key=total.get) == env.best and total[env.best] == pytest.approx(1.1)


def test_popgym_adapter():
    pytest.importorskip("popgym")
    from intarsia_r2i.envs.popgym import make_popgym

    for name in ("RepeatPreviousEasy", "AutoencodeEasy", "ConcentrationEasy"):
        env = make_popgym(name)
        obs, _ = env.reset(seed=0)
        assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
        done, n = False, 0
        while not done:
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            done = term or trunc
            n += 1
        assert "success" in info and n > 1


from intarsia.testing import EnvContract  # noqa: E402


class TestMemoryLengthContract(EnvContract):
    def make_env(self):
        return MemoryLengthEnv(5, 2)


class TestDiscountingChainContract(EnvContract):
    def make_env(self):
        return DiscountingChainEnv(mapping_seed=0)


class TestPopGymContract(EnvContract):
    steps = 120

    def make_env(self):
        pytest.importorskip("popgym")
        from intarsia_r2i.envs.popgym import make_popgym

        return make_popgym("RepeatPreviousEasy")

"""Conformance test classes, one per component kind. Subclass, implement ``make_*``, and pytest runs the
inherited tests against your component. Each test states one clause of the contract in
:mod:`intarsia.interfaces`."""

from __future__ import annotations

import abc
import dataclasses
import io

import numpy as np
import pytest

from intarsia.interfaces import Transitions

from .helpers import make_env_spec, random_transitions, rollout


def _roundtrip(state):
    """Save with torch.save and load back with weights_only=True (what the runner does)."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _default_env():
    from intarsia.builtin.gridworld import CaptionedGridEnv

    return CaptionedGridEnv(size=5, max_steps=12, torch_prob=0.2)


class EnvContract(abc.ABC):
    """Implement ``make_env()``; ``steps`` random steps are taken."""

    steps = 200

    @abc.abstractmethod
    def make_env(self):
        """Subclasses return a gymnasium env."""

    def test_passes_gymnasium_env_checker(self):
        from gymnasium.utils.env_checker import check_env

        env = self.make_env()
        check_env(env.unwrapped if hasattr(env, "unwrapped") else env, skip_render_check=True)

    def test_seeded_reset_is_reproducible(self):
        a, b = self.make_env(), self.make_env()
        oa, _ = a.reset(seed=123)
        ob, _ = b.reset(seed=123)
        for x, y in zip(_leaves(oa), _leaves(ob)):
            np.testing.assert_array_equal(x, y)

    def test_captions_are_strings_and_success_is_bool(self):
        env = self.make_env()
        env.reset(seed=0)
        env.action_space.seed(0)
        for _ in range(self.steps):
            _, reward, term, trunc, info = env.step(env.action_space.sample())
            assert np.isfinite(float(reward))
            if "caption" in info:
                assert isinstance(info["caption"], str)
            if "success" in info:
                assert term or trunc, "info['success'] belongs to an episode's last step"
                assert isinstance(info["success"], (bool, np.bool_))
            if term or trunc:
                env.reset()


class RewardContract(abc.ABC):
    """Implement ``make_reward(env_spec)``; override ``make_env()`` to test on another env."""

    num_envs = 3
    steps = 40

    @abc.abstractmethod
    def make_reward(self, env_spec):
        """Subclasses return the reward term."""

    def make_env(self):
        return _default_env()

    def _batches(self, seed=0):
        return random_transitions(self.make_env, self.num_envs, self.steps, seed)

    def _reward(self):
        env = self.make_env()
        return self.make_reward(make_env_spec(env, self.num_envs))

    def test_requires_names_transition_fields(self):
        reward = self._reward()
        fields = {f.name for f in dataclasses.fields(Transitions)}
        assert isinstance(reward.requires, frozenset)
        assert reward.requires <= fields, f"unknown fields in requires: {reward.requires - fields}"

    def test_one_finite_float_per_env(self):
        reward = self._reward()
        reward.reset()
        for batch in self._batches():
            out = np.asarray(reward(batch))
            assert out.shape == (self.num_envs,)
            assert out.dtype == np.float32
            assert np.all(np.isfinite(out))

    def test_reset_makes_it_repeatable(self):
        reward = self._reward()
        reward.reset()
        first = [np.asarray(reward(b)).copy() for b in self._batches()]
        reward.reset()
        second = [np.asarray(reward(b)).copy() for b in self._batches()]
        for x, y in zip(first, second):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)

    def test_state_dict_survives_a_weights_only_checkpoint(self):
        batches = self._batches()
        half = len(batches) // 2
        a = self._reward()
        a.reset()
        for b in batches[:half]:
            a(b)
        b_reward = self._reward()
        b_reward.reset()
        b_reward.load_state_dict(_roundtrip(a.state_dict()))
        for batch in batches[half:]:
            np.testing.assert_allclose(np.asarray(a(batch)), np.asarray(b_reward(batch)), rtol=1e-5, atol=1e-6)


class PolicyContract(abc.ABC):
    """Implement ``make_policy(env_spec, fabric)``; override ``make_env()`` for another env."""

    num_envs = 2
    steps = 64

    @abc.abstractmethod
    def make_policy(self, env_spec, fabric):
        """Subclasses return the policy."""

    def make_env(self):
        return _default_env()

    def _spec(self):
        return make_env_spec(self.make_env(), self.num_envs)

    def _drive(self, policy, steps):
        state = None
        metrics: list[dict] = []
        reset = np.ones(self.num_envs, dtype=bool)

        def act(obs):
            nonlocal state, reset
            actions, state = policy.act(obs, state, explore=True, reset=reset)
            return actions

        for i, batch in enumerate(rollout(self.make_env, act, self.num_envs, steps)):
            reset = batch.done
            policy.observe(batch)
            metrics.append(policy.update((i + 1) * self.num_envs))
        return metrics

    def test_actions_are_in_the_action_space(self, cpu_fabric):
        spec = self._spec()
        policy = self.make_policy(spec, cpu_fabric)
        env = self.make_env()
        obs = [env.reset(seed=i)[0] for i in range(self.num_envs)]
        batch_obs = {k: np.stack([o[k] for o in obs]) for k in obs[0]} if isinstance(obs[0], dict) else np.stack(obs)
        for explore in (True, False):
            actions, _ = policy.act(batch_obs, None, explore=explore, reset=np.ones(self.num_envs, dtype=bool))
            assert len(actions) == self.num_envs
            for a in actions:
                assert spec.action_space.contains(np.asarray(a, dtype=spec.action_space.dtype).reshape(spec.action_space.shape))

    def test_update_returns_named_finite_floats(self, cpu_fabric):
        policy = self.make_policy(self._spec(), cpu_fabric)
        for m in self._drive(policy, self.steps):
            assert isinstance(m, dict)
            for key, value in m.items():
                assert isinstance(key, str) and key
                assert np.isfinite(float(value)), f"metric {key} is not finite"

    def test_state_dict_survives_a_weights_only_checkpoint(self, cpu_fabric):
        spec = self._spec()
        a = self.make_policy(spec, cpu_fabric)
        self._drive(a, self.steps)
        b = self.make_policy(spec, cpu_fabric)
        b.load_state_dict(_roundtrip(a.state_dict()))
        env = self.make_env()
        obs = [env.reset(seed=100 + i)[0] for i in range(self.num_envs)]
        batch_obs = {k: np.stack([o[k] for o in obs]) for k in obs[0]} if isinstance(obs[0], dict) else np.stack(obs)
        reset = np.ones(self.num_envs, dtype=bool)
        xa, _ = a.act(batch_obs, None, explore=False, reset=reset)
        xb, _ = b.act(batch_obs, None, explore=False, reset=reset)
        np.testing.assert_allclose(np.asarray(xa, dtype=np.float64), np.asarray(xb, dtype=np.float64), rtol=1e-5, atol=1e-6)


class DetectorContract(abc.ABC):
    """Implement ``make_detector()`` and ``sample_data() -> (texts, labels)`` (labels: 1 = machine)."""

    @abc.abstractmethod
    def make_detector(self):
        """Subclasses return an unfitted detector."""

    @abc.abstractmethod
    def sample_data(self):
        """Subclasses return (texts, labels)."""

    def test_scores_are_probabilities(self):
        texts, labels = self.sample_data()
        det = self.make_detector().fit(texts, labels)
        scores = np.asarray(det.score(texts))
        assert scores.shape == (len(texts),)
        assert np.all((scores >= 0) & (scores <= 1))

    def test_save_load_gives_the_same_scores(self, tmp_path):
        texts, labels = self.sample_data()
        det = self.make_detector().fit(texts, labels)
        path = tmp_path / "detector"
        det.save(str(path))
        again = type(det).load(str(path))
        np.testing.assert_allclose(np.asarray(det.score(texts)), np.asarray(again.score(texts)), rtol=1e-6, atol=1e-8)


class LLMContract(abc.ABC):
    """Implement ``make_llm()``. Return a backend with its response cache turned off, or the determinism
    test passes trivially from the cache. Backends with ``option_logprobs`` are also checked for it."""

    prompts = ("The capital of France is", "One, two, three,")

    @abc.abstractmethod
    def make_llm(self):
        """Subclasses return an LLM backend."""

    def test_one_string_per_prompt(self):
        out = self.make_llm().generate(list(self.prompts), max_tokens=8, temperature=0.0)
        assert isinstance(out, list) and len(out) == len(self.prompts)
        assert all(isinstance(text, str) for text in out)

    def test_greedy_generation_is_deterministic(self):
        llm = self.make_llm()
        a = llm.generate(list(self.prompts), max_tokens=8, temperature=0.0)
        b = llm.generate(list(self.prompts), max_tokens=8, temperature=0.0)
        assert a == b

    def test_no_prompts_no_outputs(self):
        assert self.make_llm().generate([], max_tokens=4) == []

    def test_option_logprobs_shape_and_sign(self):
        llm = self.make_llm()
        if not hasattr(llm, "option_logprobs"):
            pytest.skip("this backend does not score options")
        out = np.asarray(llm.option_logprobs(list(self.prompts), [" Paris", " four"]))
        assert out.shape == (len(self.prompts), 2)
        assert np.all(np.isfinite(out)) and np.all(out <= 0)


class WorldModelContract(abc.ABC):
    """Implement ``make_world_model()`` and ``sample_batch()`` (what its ``loss`` takes)."""

    @abc.abstractmethod
    def make_world_model(self):
        """Subclasses return the world model."""

    @abc.abstractmethod
    def sample_batch(self):
        """Subclasses return a training batch."""

    def test_loss_terms_are_named_finite_scalars_with_gradients(self):
        import torch

        wm = self.make_world_model()
        terms, _ = wm.loss(self.sample_batch())
        assert terms and all(isinstance(k, str) for k in terms)
        total = sum(terms.values())
        for key, value in terms.items():
            assert value.ndim == 0 and torch.isfinite(value), f"loss term {key} is not a finite scalar"
        total.backward()
        grads = [p.grad for p in wm.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)

    def test_initial_state_has_the_batch_axis(self):
        state = self.make_world_model().initial(3)
        assert state and all(v.shape[0] == 3 for v in _leaves(state))


def _leaves(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _leaves(v)
    else:
        yield x


__all__ = ["DetectorContract", "EnvContract", "LLMContract", "PolicyContract", "RewardContract", "WorldModelContract", "pytest"]

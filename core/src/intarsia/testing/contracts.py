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

from .clauses import clause
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
    """Implement ``make_env()``; ``steps`` random steps are taken.

    Declare what the env promises: ``captions = True`` when it describes events in text (then every step
    must carry a ``str`` caption and some must be non-empty), ``success = True`` when it defines success
    (then every episode's last step must carry a bool ``info["success"]``). Raise ``steps`` when an
    episode takes longer than that to end under random actions.
    """

    clause_source = "intarsia.hookspecs.register_envs"
    steps = 200
    captions = False
    success = False

    @abc.abstractmethod
    def make_env(self):
        """Subclasses return a gymnasium env."""

    def _random_steps(self):
        """``(reward, terminated, truncated, info)`` of ``steps`` seeded random steps, resetting after each end."""
        env = self.make_env()
        env.reset(seed=0)
        env.action_space.seed(0)
        out = []
        for _ in range(self.steps):
            _, reward, term, trunc, info = env.step(env.action_space.sample())
            out.append((reward, bool(term), bool(trunc), info))
            if term or trunc:
                env.reset()
        env.close()
        return out

    @clause("factory(**config_fields) returns a gymnasium.Env")
    def test_passes_gymnasium_env_checker(self):
        from gymnasium.utils.env_checker import check_env

        env = self.make_env()
        check_env(env.unwrapped if hasattr(env, "unwrapped") else env, skip_render_check=True)

    @clause("a gymnasium env: reset(seed=s) starts the same episode every time")
    def test_seeded_reset_is_reproducible(self):
        a, b = self.make_env(), self.make_env()
        oa, _ = a.reset(seed=123)
        ob, _ = b.reset(seed=123)
        for x, y in zip(_leaves(oa), _leaves(ob)):
            np.testing.assert_array_equal(x, y)

    @clause("a gymnasium env: step returns a finite float reward")
    def test_rewards_are_finite(self):
        for i, (reward, *_rest) in enumerate(self._random_steps()):
            assert np.isfinite(float(reward)), f"step {i}: reward {reward!r}"

    @clause('Envs that describe events in text put a str in info["caption"] on every step ("" when nothing happened)')
    def test_captions_are_strings_on_every_step(self):
        infos = [info for *_rest, info in self._random_steps()]
        with_caption = [i for i, info in enumerate(infos) if "caption" in info]
        if not self.captions and not with_caption:
            return  # an env without captions (set captions = True on the test class if it has them)
        missing = [i for i, info in enumerate(infos) if "caption" not in info]
        assert not missing, f"info['caption'] is missing on {len(missing)} of {len(infos)} steps (first: step {missing[0]})"
        bad = [(i, infos[i]["caption"]) for i in with_caption if not isinstance(infos[i]["caption"], str)]
        assert not bad, f"info['caption'] is not a str on step {bad[0][0]}: {type(bad[0][1]).__name__} {bad[0][1]!r}"
        if self.captions:
            assert any(info["caption"] for info in infos), (
                f"the test class declares captions = True, but {len(infos)} random steps gave only empty captions")

    @clause('Envs that have a notion of success put info["success"] (bool) in the info of an episode\'s last step')
    def test_success_is_a_bool_on_every_last_step(self):
        steps = self._random_steps()
        ends = 0
        for i, (_, term, trunc, info) in enumerate(steps):
            if "success" in info:
                assert term or trunc, f"step {i}: info['success'] on a step that does not end the episode"
                assert isinstance(info["success"], (bool, np.bool_)), (
                    f"step {i}: info['success'] is {type(info['success']).__name__} {info['success']!r}, not a bool")
            if term or trunc:
                ends += 1
                if self.success:
                    assert "success" in info, f"step {i} ends an episode without info['success']"
        if self.success:
            assert ends, f"no episode ended in {self.steps} random steps: raise `steps` on the test class"


class RewardContract(abc.ABC):
    """Implement ``make_reward(env_spec)``; override ``make_env()`` to test on another env (the default is
    the captioned gridworld). A term that keeps state across episodes on purpose (a running normaliser, a
    lifelong novelty count) sets ``keeps_state_across_episodes = True``, which skips the per-episode reset
    check."""

    clause_source = "intarsia.interfaces.Reward"
    num_envs = 3
    steps = 40
    keeps_state_across_episodes = False

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

    @clause("requires names the Transitions fields the term reads")
    def test_requires_names_transition_fields(self):
        reward = self._reward()
        fields = {f.name for f in dataclasses.fields(Transitions)}
        assert isinstance(reward.requires, frozenset)
        assert reward.requires <= fields, f"unknown fields in requires: {reward.requires - fields}"

    @clause("__call__(batch) returns a float32 array of shape (num_envs,)")
    def test_one_finite_float_per_env(self):
        reward = self._reward()
        reward.reset()
        for i, batch in enumerate(self._batches()):
            out = np.asarray(reward(batch))
            assert out.shape == (self.num_envs,), f"step {i}: shape {out.shape}, expected ({self.num_envs},)"
            assert out.dtype == np.float32, f"step {i}: dtype {out.dtype}, expected float32"
            assert np.all(np.isfinite(out)), f"step {i}: non-finite values {out}"

    @clause("A term with per-episode state updates it with this step and then resets it for every env whose "
            "batch.done is true")
    def test_episode_state_is_reset_where_done(self):
        if self.keeps_state_across_episodes:
            pytest.skip("the term keeps state across episodes (keeps_state_across_episodes = True)")
        batches = self._batches()
        half = len(batches) // 2
        # the first half ends every env's episode on its last step; afterwards the term must behave as new
        prefix = batches[:half - 1] + [dataclasses.replace(batches[half - 1],
                                                           terminated=np.ones(self.num_envs, dtype=bool))]
        reward = self._reward()
        reward.reset()
        for batch in prefix:
            reward(batch)
        fresh = self._reward()
        fresh.reset()
        for i, batch in enumerate(batches[half:]):
            np.testing.assert_allclose(
                np.asarray(reward(batch)), np.asarray(fresh(batch)), rtol=1e-5, atol=1e-6,
                err_msg=f"step {i} after every env's episode ended: the term still remembers the earlier episode "
                        "(a term that keeps state across episodes on purpose sets keeps_state_across_episodes = True)")

    @clause("reset() clears all state")
    def test_reset_makes_it_repeatable(self):
        reward = self._reward()
        reward.reset()
        first = [np.asarray(reward(b)).copy() for b in self._batches()]
        reward.reset()
        second = [np.asarray(reward(b)).copy() for b in self._batches()]
        for x, y in zip(first, second):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg="the same batches after reset()")

    @clause("state_dict/load_state_dict hold whatever must survive a resume")
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
        for i, batch in enumerate(batches[half:]):
            np.testing.assert_allclose(np.asarray(a(batch)), np.asarray(b_reward(batch)), rtol=1e-5, atol=1e-6,
                                       err_msg=f"step {i} after loading the state dict into a new term")


class PolicyContract(abc.ABC):
    """Implement ``make_policy(env_spec, fabric)``; override ``make_env()`` for another env (the default is
    the captioned gridworld)."""

    clause_source = "intarsia.interfaces.Policy"
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

    @clause("act(obs, state, *, explore) -> (actions, state): one action per env, in the env's action space")
    def test_actions_are_in_the_action_space(self, cpu_fabric):
        spec = self._spec()
        policy = self.make_policy(spec, cpu_fabric)
        env = self.make_env()
        obs = [env.reset(seed=i)[0] for i in range(self.num_envs)]
        batch_obs = {k: np.stack([o[k] for o in obs]) for k in obs[0]} if isinstance(obs[0], dict) else np.stack(obs)
        for explore in (True, False):
            actions, _ = policy.act(batch_obs, None, explore=explore, reset=np.ones(self.num_envs, dtype=bool))
            assert len(actions) == self.num_envs, f"{len(actions)} actions for {self.num_envs} envs"
            for a in actions:
                assert spec.action_space.contains(np.asarray(a, dtype=spec.action_space.dtype).reshape(spec.action_space.shape)), (
                    f"action {a!r} (explore={explore}) is not in {spec.action_space}")

    @clause("update(step) -> dict[str, float]: train as the agent's train ratio says; may return {}")
    def test_update_returns_named_finite_floats(self, cpu_fabric):
        policy = self.make_policy(self._spec(), cpu_fabric)
        for m in self._drive(policy, self.steps):
            assert isinstance(m, dict)
            for key, value in m.items():
                assert isinstance(key, str) and key
                assert np.isfinite(float(value)), f"metric {key} is not finite"

    @clause("state_dict values are tensors, numbers, strings and containers of them, so checkpoints load with "
            "torch.load(weights_only=True)")
    def test_state_dict_holds_only_checkpoint_safe_values(self, cpu_fabric):
        policy = self.make_policy(self._spec(), cpu_fabric)
        self._drive(policy, self.steps)
        state = policy.state_dict()
        bad = list(_unsafe_leaves(state))
        assert not bad, "not a tensor, number, string or container: " + ", ".join(
            f"{path} ({type(value).__module__}.{type(value).__qualname__})" for path, value in bad[:5])
        _roundtrip(state)

    @clause("state_dict()/load_state_dict(): everything needed to continue training")
    def test_state_dict_survives_a_weights_only_checkpoint(self, cpu_fabric):
        spec = self._spec()
        a = self.make_policy(spec, cpu_fabric)
        self._drive(a, self.steps)
        b = self.make_policy(spec, cpu_fabric)
        b.load_state_dict(_roundtrip(a.state_dict()))
        diff = _first_difference(a.state_dict(), b.state_dict())
        assert diff is None, f"after load_state_dict, the new policy's weights differ at {diff}"
        env = self.make_env()
        reset = np.ones(self.num_envs, dtype=bool)
        for k in range(4):  # several observations: equal greedy actions by chance are unlikely on all of them
            obs = [env.reset(seed=100 + k * self.num_envs + i)[0] for i in range(self.num_envs)]
            batch_obs = {key: np.stack([o[key] for o in obs]) for key in obs[0]} if isinstance(obs[0], dict) else np.stack(obs)
            xa, _ = a.act(batch_obs, None, explore=False, reset=reset)
            xb, _ = b.act(batch_obs, None, explore=False, reset=reset)
            np.testing.assert_allclose(np.asarray(xa, dtype=np.float64), np.asarray(xb, dtype=np.float64), rtol=1e-5,
                                       atol=1e-6, err_msg="greedy actions of the trained policy and of a new one "
                                                          "loaded from its state dict")


class DetectorContract(abc.ABC):
    """Implement ``make_detector()`` and ``sample_data() -> (texts, labels)`` (labels: 1 = machine)."""

    clause_source = "intarsia.interfaces.Detector"

    @abc.abstractmethod
    def make_detector(self):
        """Subclasses return an unfitted detector."""

    @abc.abstractmethod
    def sample_data(self):
        """Subclasses return (texts, labels)."""

    @clause("score gives P(machine-generated) in [0, 1] per text")
    def test_scores_are_probabilities(self):
        texts, labels = self.sample_data()
        det = self.make_detector().fit(texts, labels)
        scores = np.asarray(det.score(texts))
        assert scores.shape == (len(texts),)
        assert np.all((scores >= 0) & (scores <= 1))

    @clause("save(path) and the classmethod load(path) give back the same detector")
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

    clause_source = "intarsia.interfaces.LLM"
    prompts = ("The capital of France is", "One, two, three,")

    @abc.abstractmethod
    def make_llm(self):
        """Subclasses return an LLM backend."""

    @clause("generate returns one completion per prompt, same order")
    def test_one_string_per_prompt(self):
        out = self.make_llm().generate(list(self.prompts), max_tokens=8, temperature=0.0)
        assert isinstance(out, list) and len(out) == len(self.prompts)
        assert all(isinstance(text, str) for text in out)

    @clause("generate with temperature 0 is greedy: the same prompts give the same completions")
    def test_greedy_generation_is_deterministic(self):
        llm = self.make_llm()
        a = llm.generate(list(self.prompts), max_tokens=8, temperature=0.0)
        b = llm.generate(list(self.prompts), max_tokens=8, temperature=0.0)
        assert a == b

    @clause("generate returns one completion per prompt (none for no prompts)")
    def test_no_prompts_no_outputs(self):
        assert self.make_llm().generate([], max_tokens=4) == []

    @clause("option_logprobs(prompts, options) -> np.ndarray of shape (len(prompts), len(options))")
    def test_option_logprobs_shape_and_sign(self):
        llm = self.make_llm()
        if not hasattr(llm, "option_logprobs"):
            pytest.skip("this backend does not score options")
        out = np.asarray(llm.option_logprobs(list(self.prompts), [" Paris", " four"]))
        assert out.shape == (len(self.prompts), 2)
        assert np.all(np.isfinite(out)) and np.all(out <= 0)


class WorldModelContract(abc.ABC):
    """Implement ``make_world_model()`` and ``sample_batch()`` (what its ``loss`` takes: ``obs`` (B, T, ...),
    ``action``, ``is_first``, ``is_terminal``, ``rewards``; see :class:`intarsia.interfaces.WorldModel`).
    The world model must be built for the reward terms of ``sample_batch()["rewards"]``."""

    clause_source = "intarsia.interfaces.WorldModel"

    @abc.abstractmethod
    def make_world_model(self):
        """Subclasses return the world model."""

    @abc.abstractmethod
    def sample_batch(self):
        """Subclasses return a training batch."""

    def _posteriors(self, wm, batch):
        import torch

        action = batch["action"]
        prev = torch.cat([torch.zeros_like(action[:, :1]), action[:, :-1]], 1)
        return wm.observe(wm.encode(batch["obs"]), prev, batch["is_first"])

    @clause("A world model (a torch.nn.Module) that an agent builds by name")
    def test_is_a_world_model_module(self):
        import torch

        from intarsia.interfaces import WorldModel

        wm = self.make_world_model()
        assert isinstance(wm, torch.nn.Module), f"{type(wm).__name__} is not a torch.nn.Module"
        missing = [m for m in ("initial", "encode", "observe", "imagine_step", "rollout", "features", "feature_dim",
                               "predict_rewards", "predict_cont", "loss", "stochastic") if not hasattr(wm, m)]
        assert not missing and isinstance(wm, WorldModel), f"missing: {', '.join(missing)}"

    @clause("loss(batch) -> (dict of named scalar terms, posteriors); the agent sums them with its weights")
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

    @clause("Latent states are dicts of tensors with a leading batch axis: initial(batch_size) -> state")
    def test_initial_state_has_the_batch_axis(self):
        state = self.make_world_model().initial(3)
        assert state and all(v.shape[0] == 3 for v in _leaves(state))

    @clause("observe(embeds, actions, is_first, state=None) -> (posteriors, priors) over a (B, T) sequence; "
            'features(state, kind="full") -> Tensor[..., feature_dim(kind)]')
    def test_observe_gives_states_over_the_sequence_and_their_features(self):
        import torch

        wm, batch = self.make_world_model(), self.sample_batch()
        B, T = batch["is_first"].shape[:2]
        with torch.no_grad():
            post, prior = self._posteriors(wm, batch)
            for name, states in (("posteriors", post), ("priors", prior)):
                bad = {k: tuple(v.shape) for k, v in states.items() if tuple(v.shape[:2]) != (B, T)}
                assert states and not bad, f"{name} without the (B, T) = {(B, T)} leading axes: {bad}"
                feat = wm.features(states, "full")
                assert tuple(feat.shape) == (B, T, wm.feature_dim("full")), (
                    f"features of the {name}: shape {tuple(feat.shape)}, feature_dim('full') = {wm.feature_dim('full')}")
                assert torch.isfinite(feat).all(), f"features of the {name} are not finite"

    @clause("imagine_step(state, action) -> state (prior transition, for imagination); rollout(): a context "
            "manager around a run of imagine_step calls")
    def test_imagination_keeps_the_batch_and_the_features(self):
        import torch

        wm, batch = self.make_world_model(), self.sample_batch()
        with torch.no_grad():
            post, _ = self._posteriors(wm, batch)
            state = {k: v[:, -1] for k, v in post.items()}
            B = batch["action"].shape[0]
            with wm.rollout():
                for t in range(3):
                    state = wm.imagine_step(state, batch["action"][:, t])
            feat = wm.features(state, "full")
        assert tuple(feat.shape) == (B, wm.feature_dim("full")) and torch.isfinite(feat).all()

    @clause("predict_rewards(state) -> {term: Tensor[...]} (one per reward term it was built for) and "
            "predict_cont(state) -> Tensor[...] (probability of continuing, in [0, 1])")
    def test_heads_predict_every_reward_term_and_a_continue_probability(self):
        import torch

        wm, batch = self.make_world_model(), self.sample_batch()
        B, T = batch["is_first"].shape[:2]
        with torch.no_grad():
            post, _ = self._posteriors(wm, batch)
            rewards, cont = wm.predict_rewards(post), wm.predict_cont(post)
        assert set(rewards) == set(batch["rewards"]), f"reward terms {sorted(rewards)}, batch has {sorted(batch['rewards'])}"
        for term, r in rewards.items():
            assert tuple(r.shape) == (B, T) and torch.isfinite(r).all(), f"reward/{term}: shape {tuple(r.shape)}"
        assert tuple(cont.shape) == (B, T) and bool(((cont >= 0) & (cont <= 1)).all()), "continue probabilities"

    @clause("stochastic (bool attribute): False makes observe/imagine_step use latent modes")
    def test_modes_are_deterministic(self):
        import torch

        wm, batch = self.make_world_model(), self.sample_batch()
        wm.stochastic = False
        with torch.no_grad():
            a, _ = self._posteriors(wm, batch)
            b, _ = self._posteriors(wm, batch)
        for key in a:
            torch.testing.assert_close(a[key], b[key], msg=f"posterior {key!r} differs between two calls")

    @clause("the world model's state_dict loads with torch.load(weights_only=True) and gives the same losses")
    def test_state_dict_survives_a_weights_only_checkpoint(self):
        import torch

        a, b = self.make_world_model(), self.make_world_model()
        b.load_state_dict(_roundtrip(a.state_dict()))
        a.stochastic = b.stochastic = False
        batch = self.sample_batch()
        with torch.no_grad():
            la, _ = a.loss(batch)
            lb, _ = b.loss(batch)
        for key in la:
            torch.testing.assert_close(la[key], lb[key], msg=f"loss term {key!r} after loading the state dict")


class AnalysisContract(abc.ABC):
    """Implement ``make_analysis()``, ``make_model()`` (a trained or random ``torch.nn.Module``) and
    ``make_data()`` (what the analysis's ``run`` takes besides the model)."""

    clause_source = "intarsia.interfaces.Analysis"

    @abc.abstractmethod
    def make_analysis(self):
        """Subclasses return the analysis."""

    @abc.abstractmethod
    def make_model(self):
        """Subclasses return the model to analyse."""

    @abc.abstractmethod
    def make_data(self):
        """Subclasses return the analysis's data."""

    @clause("An analysis has run(model, data)")
    def test_is_an_analysis(self):
        from intarsia.interfaces import Analysis

        assert isinstance(self.make_analysis(), Analysis)

    @clause('run returns {"metrics": {name: float}, "figures": {name: matplotlib.figure.Figure}}')
    def test_returns_named_finite_metrics_and_figures(self):
        from matplotlib.figure import Figure

        out = self.make_analysis().run(self.make_model(), self.make_data())
        assert set(out) >= {"metrics", "figures"}
        assert out["metrics"], "an analysis returns at least one number"
        for key, value in out["metrics"].items():
            assert isinstance(key, str) and key
            assert np.isfinite(float(value)), f"metric {key} is not finite"
        for key, fig in out["figures"].items():
            assert isinstance(key, str) and key and isinstance(fig, Figure), f"figure {key} is not a Figure"

    @clause("It leaves the model's weights, training mode and hooks as it found them")
    def test_leaves_the_model_as_it_found_it(self):
        import torch

        model = self.make_model()
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        modes = [m.training for m in model.modules()]
        hooks = [len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()]
        self.make_analysis().run(model, self.make_data())
        after = model.state_dict()
        assert set(after) == set(before)
        for key, value in before.items():
            assert torch.equal(after[key], value), f"run() changed {key}"
        assert [m.training for m in model.modules()] == modes, "run() changed a module's training mode"
        assert [len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                for m in model.modules()] == hooks, "run() left hooks on the model"
        assert all(p.grad is None for p in model.parameters()), "run() left gradients on the model"

    @clause("run is deterministic for a fixed config seed")
    def test_is_deterministic(self):
        a = self.make_analysis().run(self.make_model(), self.make_data())["metrics"]
        b = self.make_analysis().run(self.make_model(), self.make_data())["metrics"]
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(float(a[key]), float(b[key]), rtol=1e-5, atol=1e-6, err_msg=key)


class EncoderContract(abc.ABC):
    """Implement ``make_encoder()`` (an untrained or trained encoder). ``batch_size`` random images of the
    encoder's ``image_shape`` are encoded."""

    batch_size = 3

    @abc.abstractmethod
    def make_encoder(self):
        """Subclasses return the encoder (a ``torch.nn.Module``)."""

    def _images(self, encoder, seed=0):
        import torch

        gen = torch.Generator().manual_seed(seed)
        return torch.rand((self.batch_size, *encoder.image_shape), generator=gen)

    def test_is_an_encoder_module(self):
        import torch

        from intarsia.interfaces import Encoder

        enc = self.make_encoder()
        assert isinstance(enc, torch.nn.Module) and isinstance(enc, Encoder)
        assert len(enc.image_shape) == 3 and all(int(n) > 0 for n in enc.output_shape)

    def test_output_has_the_declared_shape_and_is_finite(self):
        import torch

        enc = self.make_encoder().eval()
        with torch.no_grad():
            out = enc(self._images(enc))
        assert out.dtype == torch.float32
        assert tuple(out.shape) == (self.batch_size, *enc.output_shape)
        assert torch.isfinite(out).all()

    def test_eval_mode_is_deterministic(self):
        import torch

        enc = self.make_encoder().eval()
        images = self._images(enc)
        with torch.no_grad():
            torch.testing.assert_close(enc(images), enc(images))

    def test_different_images_give_different_outputs(self):
        import torch

        enc = self.make_encoder().eval()
        with torch.no_grad():
            a, b = enc(self._images(enc, 0)), enc(self._images(enc, 1))
        assert not torch.allclose(a, b)

    def test_state_dict_survives_a_weights_only_checkpoint(self):
        import torch

        enc = self.make_encoder().eval()
        again = self.make_encoder().eval()
        again.load_state_dict(_roundtrip(enc.state_dict()))
        images = self._images(enc)
        with torch.no_grad():
            torch.testing.assert_close(enc(images), again(images))


class SamplerContract(abc.ABC):
    """Implement ``make_sampler(fabric)`` (see :class:`intarsia.interfaces.Sampler`); ``iterations``
    training iterations are run and ``sample_size`` objects drawn. Keep the sampler tiny: every test
    builds a fresh one."""

    clause_source = "intarsia.interfaces.Sampler"
    iterations = 3
    sample_size = 16

    @abc.abstractmethod
    def make_sampler(self, fabric):
        """Subclasses return the sampler."""

    def _train(self, sampler, start=0):
        return [sampler.update(step) for step in range(start + 1, start + self.iterations + 1)]

    @clause('update(step) runs one training iteration and returns {"group/name": float}; trajectories counts '
            "the trajectories drawn so far")
    def test_update_returns_named_finite_floats_and_counts_trajectories(self, cpu_fabric):
        sampler = self.make_sampler(cpu_fabric)
        before = int(sampler.trajectories)
        for m in self._train(sampler):
            assert isinstance(m, dict)
            for key, value in m.items():
                assert isinstance(key, str) and key
                assert np.isfinite(float(value)), f"metric {key} is not finite"
        assert int(sampler.trajectories) > before, "update() drew trajectories but did not count them"

    @clause("sample(n) returns n terminal objects as a tensor with a leading n axis")
    def test_sample_returns_n_objects(self, cpu_fabric):
        sampler = self.make_sampler(cpu_fabric)
        out = sampler.sample(self.sample_size)
        assert len(out) == self.sample_size

    @clause("evaluate() returns finite {name: float} measurements of the current sampler")
    def test_evaluate_returns_finite_floats(self, cpu_fabric):
        sampler = self.make_sampler(cpu_fabric)
        self._train(sampler)
        metrics = sampler.evaluate()
        assert metrics, "evaluate() returned nothing"
        for key, value in metrics.items():
            assert isinstance(key, str) and key
            assert np.isfinite(float(value)), f"evaluation {key} is not finite"

    @clause("state_dict() holds tensors, numbers, strings and containers only, so a resumed sampler continues "
            "as the uninterrupted one would")
    def test_state_dict_survives_a_weights_only_checkpoint(self, cpu_fabric):
        import torch

        a = self.make_sampler(cpu_fabric)
        self._train(a)
        b = self.make_sampler(cpu_fabric)
        b.load_state_dict(_roundtrip(a.state_dict()))
        assert int(b.trajectories) == int(a.trajectories)
        torch.manual_seed(7)
        xa = a.sample(self.sample_size)
        torch.manual_seed(7)
        xb = b.sample(self.sample_size)
        np.testing.assert_array_equal(np.asarray(xa.cpu()), np.asarray(xb.cpu()))
        torch.manual_seed(8)
        ma = self._train(a, self.iterations)
        torch.manual_seed(8)
        mb = self._train(b, self.iterations)
        for x, y in zip(ma, mb):
            assert x.keys() == y.keys()
            for key in x:
                np.testing.assert_allclose(float(x[key]), float(y[key]), rtol=1e-4, atol=1e-5, err_msg=key)


def _unsafe_leaves(x, path="state"):
    """``(path, value)`` of every leaf that ``torch.load(weights_only=True)`` refuses or that the contract
    does not allow (numpy arrays, custom objects)."""
    import torch

    if isinstance(x, dict):
        for k, v in x.items():
            yield from _unsafe_leaves(v, f"{path}[{k!r}]")
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _unsafe_leaves(v, f"{path}[{i}]")
    elif not (x is None or isinstance(x, (torch.Tensor, bool, int, float, str, bytes, torch.dtype, torch.device))):
        yield path, x


def _first_difference(a, b, path="state"):
    """The path of the first floating-point tensor (weights, optimiser moments) where two state dicts differ;
    ``None`` when they agree. Counters and entries present in only one are not compared: a policy may
    legitimately rebuild them on load (a replay that its config does not checkpoint, say)."""
    import torch

    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                continue
            diff = _first_difference(a[k], b[k], f"{path}[{k!r}]")
            if diff:
                return diff
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path} (lengths {len(a)} and {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = _first_difference(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.is_floating_point():
        same = a.shape == b.shape and a.dtype == b.dtype and bool(
            torch.allclose(a.cpu(), b.cpu(), equal_nan=True, rtol=0, atol=0))
        return None if same else path
    return None


def _leaves(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _leaves(v)
    else:
        yield x


__all__ = ["EncoderContract", "AnalysisContract", "DetectorContract", "EnvContract", "LLMContract", "PolicyContract", "RewardContract", "SamplerContract", "WorldModelContract", "pytest"]

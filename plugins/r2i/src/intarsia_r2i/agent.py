"""The R2I / DreamerV3 agent: world-model learning from sequence replay plus an actor-critic trained in
imagination from every posterior state (DreamerV3 recipe: lambda-returns, percentile return
normalisation, slow-critic regulariser, entropy bonus; REINFORCE for discrete and backprop through the
dynamics for continuous actions).

The same class is registered twice: ``r2i`` (world model ``s3m``) and ``dreamerv3`` (``rssm``); only the
world model differs. It reads the runner's reward terms separately (``wants_reward_terms``): the world
model learns one reward head per term and imagination sums their predictions (the terms arrive already
multiplied by their coefficients).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn
from intarsia.metric_means import MetricMeans
from intarsia.schedule import TrainSchedule

from .config import AgentConfig
from .nets import MLP, TwoHotSymlog, uniform_fan_avg_, unimix_logits
from .replay import SequenceReplay
from .world_model import action_layout


def obs_to_array(space, obs) -> np.ndarray:
    """Batched env observations -> flat float32 vectors (Discrete/MultiDiscrete one-hot) or uint8 images."""
    from gymnasium import spaces

    obs = np.asarray(obs)
    if isinstance(space, spaces.Discrete):
        return np.eye(space.n, dtype=np.float32)[obs.astype(np.int64) - int(space.start)]
    if isinstance(space, spaces.MultiDiscrete):
        parts = [np.eye(n, dtype=np.float32)[obs[:, i].astype(np.int64)] for i, n in enumerate(space.nvec.ravel())]
        return np.concatenate(parts, -1)
    if len(space.shape) == 3 and space.dtype == np.uint8:
        return obs.astype(np.uint8)
    return obs.reshape(len(obs), -1).astype(np.float32)


def _all_reduce_mean(grads: list[torch.Tensor], world_size: int) -> None:
    """Average gradients over the ranks in place: one flat all-reduce per dtype (not one call, and one
    barrier, per tensor). Every rank passes the same tensors in the same order."""
    import torch.distributed as dist

    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for same in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in same])
        dist.all_reduce(flat)  # a sum: gloo has no average
        flat.div_(world_size)
        for g, part in zip(same, flat.split([g.numel() for g in same]), strict=True):
            g.copy_(part.view_as(g))


class ReturnNorm:
    """EMA of the 5th/95th return percentiles; returns are scaled by max(1, p95 - p5)."""

    def __init__(self, decay: float, low: float, high: float, max_: float):
        self.decay, self.low, self.high, self.max = decay, low / 100, high / 100, max_
        self.lo = torch.zeros(())
        self.hi = torch.zeros(())

    def update(self, ret: torch.Tensor):
        flat = ret.detach().flatten().float()
        lo, hi = torch.quantile(flat, self.low), torch.quantile(flat, self.high)
        self.lo = self.decay * self.lo.to(flat) + (1 - self.decay) * lo
        self.hi = self.decay * self.hi.to(flat) + (1 - self.decay) * hi
        return self.lo, torch.clamp(self.hi - self.lo, min=1.0 / self.max)


class R2IAgent:
    """Policy protocol of the intarsia runner (``act``/``observe``/``update``/``state_dict``) and
    :class:`intarsia.interfaces.Probeable` (``latent_features``). The world model is any registered one
    (:class:`intarsia.interfaces.WorldModel`): it owns encoder, dynamics, decoder, reward and continue heads
    and their losses; the agent owns the actor, the critic, the loss weights and the optimisers."""

    wants_reward_terms = True

    default_world_model = "s3m"  # the world model when ``world_model`` names none (``dreamerv3``: ``rssm``)

    def __init__(self, config: AgentConfig | None = None, *, env_spec, fabric, default_world_model: str | None = None):
        cfg = config or AgentConfig()
        self.cfg, self.fabric, self.env_spec = cfg, fabric, env_spec
        self.device = fabric.device
        # every rank starts from the same weights; without an explicit seed they follow the run's seed
        init_seed = cfg.seed if cfg.seed is not None else int(torch.randint(2**31 - 1, ()))
        init_seed = int(fabric.broadcast(init_seed, src=0))
        torch.manual_seed(init_seed)
        self.obs_space, self.action_space = env_spec.observation_space, env_spec.action_space
        self.num_envs = env_spec.num_envs
        self.terms = tuple(env_spec.reward_terms) or ("extrinsic",)
        self.discrete, self.action_dim = action_layout(self.action_space)
        self.wm = self._build_world_model(default_world_model or self.default_world_model)
        feat = self.wm.feature_dim(cfg.policy_inputs)
        out = self.action_dim if self.discrete else 2 * self.action_dim
        self.actor = MLP(feat, cfg.actor_layers, cfg.actor_units, out)
        if not self.discrete:  # the official mean and std layers are two Linears, each with its own fans
            with torch.no_grad():
                for half in self.actor.head.weight.chunk(2, 0):
                    uniform_fan_avg_(half, fan=(half.shape[1] + half.shape[0]) / 2)
        self.critic = MLP(feat, cfg.critic_layers, cfg.critic_units, cfg.critic_bins, zero_out=True)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.twohot = TwoHotSymlog(cfg.critic_bins).to(self.device)
        wm_groups = self._wm_param_groups()
        wm_opt = torch.optim.AdamW(wm_groups, lr=cfg.model_lr, eps=cfg.model_eps)
        actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, eps=cfg.ac_eps)
        critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, eps=cfg.ac_eps)
        # Fabric places modules and wraps optimisers; we keep the raw modules to call their methods
        # (world-model methods other than forward), and all-reduce gradients ourselves under DDP.
        _, self.wm_opt = fabric.setup(self.wm, wm_opt)
        _, self.actor_opt = fabric.setup(self.actor, actor_opt)
        _, self.critic_opt = fabric.setup(self.critic, critic_opt)
        self.slow_critic.to(self.device)
        self.retnorm = ReturnNorm(cfg.retnorm_decay, cfg.retnorm_low, cfg.retnorm_high, cfg.retnorm_max)
        sample = obs_to_array(self.obs_space, [self.obs_space.sample()])
        obs_shape, obs_dtype = sample.shape[1:], sample.dtype
        self.replay = SequenceReplay(self.num_envs, cfg.replay_capacity, obs_shape, obs_dtype,
                                     self.action_dim, len(self.terms), seed=init_seed + 1000 * fabric.global_rank + 1)
        torch.manual_seed(init_seed + 1000 * fabric.global_rank + 2)  # per-rank action/imagination sampling
        self._slot = np.full(self.num_envs, -1, dtype=np.int64)  # replay slot of each env's latest obs
        self._need_first = np.ones(self.num_envs, dtype=bool)
        self._carry: dict | None = None  # chunk_start 'carry': each batch row's last posterior of the last update
        self.env_steps = 0  # per rank
        # train_ratio replayed steps per global env step, batch_size x batch_length of them per update
        self.schedule = TrainSchedule.from_ratio(cfg.learning_starts, cfg.train_ratio / (cfg.batch_size * cfg.batch_length))
        self.updates = 0
        self._metrics = MetricMeans(cfg.metrics_every)

    # -- parameters ----------------------------------------------------------------------------
    def _build_world_model(self, default: str):
        """``world_model: {name, <options>}`` built from the registry (any distribution's world model)."""
        from intarsia.build import build
        from intarsia.errors import ConfigError
        from intarsia.interfaces import WorldModel

        section = dict(self.cfg.world_model or {})
        section.setdefault("name", default)
        wm = build("world_models", section, obs_space=self.obs_space, action_space=self.action_space,
                   reward_terms=self.terms)
        if not isinstance(wm, nn.Module) or not isinstance(wm, WorldModel):
            raise ConfigError(f"policy.world_model: {section['name']!r} is not a torch.nn.Module implementing "
                              "intarsia.interfaces.WorldModel")
        self.world_model_name = str(section["name"])
        return wm

    def _wm_param_groups(self):
        """Official optimiser groups: one per S5 parameter kind (``model_opt_group_keys``: Lambda_re,
        Lambda_im, B, C, D, log_step; no weight decay) and the rest, where weight decay only touches kernels
        (``wd_pattern='/(w|kernel)$'``: Linear / conv weights; not biases, norm scales or the learned initial
        state). Each group is gradient-clipped on its own, as optax's multi_transform does with one
        clip_by_global_norm per label. A world model with ``ssm_parameters()`` only gives one SSM group."""
        if hasattr(self.wm, "ssm_parameter_groups"):
            ssm_groups = [list(g) for g in self.wm.ssm_parameter_groups().values()]
        elif hasattr(self.wm, "ssm_parameters"):
            ssm_groups = [list(self.wm.ssm_parameters())]
        else:
            ssm_groups = []
        ssm_groups = [g for g in ssm_groups if g]
        ssm = [p for g in ssm_groups for p in g]
        ssm_ids = {id(p) for p in ssm}
        kernel_ids = {id(m.weight) for m in self.wm.modules()
                      if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))} - ssm_ids
        kernels = [p for p in self.wm.parameters() if id(p) in kernel_ids]
        others = [p for p in self.wm.parameters() if id(p) not in kernel_ids and id(p) not in ssm_ids]
        groups = [{"params": kernels, "weight_decay": self.cfg.model_wd}, {"params": others, "weight_decay": 0.0}]
        if ssm:
            groups.append({"params": ssm, "weight_decay": 0.0})
        self._wm_clip_groups = [kernels + others] + ssm_groups
        return groups

    def _step_opt(self, loss, opt, params, clip):
        """Backward, (DDP) gradient mean, clip and step. ``params`` is a list of parameters, or a list of
        such lists that are clipped separately (the world model's groups). Returns the total grad norm as a
        tensor (reading it would wait for the device)."""
        opt.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        params = list(params)
        groups = params if params and isinstance(params[0], list) else [params]
        # under 16-mixed the gradients still carry the loss scale: unscale before clipping, or the clip
        # would shrink by that scale (the scaler then steps without unscaling twice)
        self.fabric.strategy.precision.unscale_gradients(getattr(opt, "optimizer", opt))
        groups = [[p for p in group if p.grad is not None] for group in groups]
        if self.fabric.world_size > 1:
            _all_reduce_mean([p.grad for group in groups for p in group], self.fabric.world_size)
        norms = [torch.nn.utils.clip_grad_norm_(group, clip) for group in groups if group]
        opt.step()
        return torch.stack(norms).square().sum().sqrt() if norms else torch.zeros((), device=self.device)

    # -- acting --------------------------------------------------------------------------------
    def _actor_dist(self, feat):
        out = self.actor(feat)
        if self.discrete:
            return unimix_logits(out, self.cfg.actor_unimix), None
        mean, std = out.chunk(2, -1)
        std = (self.cfg.actor_maxstd - self.cfg.actor_minstd) * torch.sigmoid(std + 2.0) + self.cfg.actor_minstd
        return torch.tanh(mean), std

    def _sample(self, dist, explore: bool):
        a, b = dist
        if self.discrete:
            idx = torch.multinomial(a.exp(), 1).squeeze(-1) if explore else a.argmax(-1)
            return nn.functional.one_hot(idx, self.action_dim).float()
        return a + b * torch.randn_like(a) if explore else a

    def _log_prob_entropy(self, dist, action):
        a, b = dist
        if self.discrete:
            return (a * action).sum(-1), -(a.exp() * a).sum(-1)
        normal = torch.distributions.Normal(a, b)
        return normal.log_prob(action).sum(-1), normal.entropy().sum(-1)

    def _env_action(self, action: torch.Tensor) -> np.ndarray:
        if self.discrete:
            return action.argmax(-1).cpu().numpy()
        a = action.clamp(-1, 1).cpu().numpy()
        low, high = self.action_space.low, self.action_space.high
        return (low + (a + 1) / 2 * (high - low)).reshape(len(a), *self.action_space.shape).astype(self.action_space.dtype)

    def _tensor(self, x, dtype=None):
        return torch.as_tensor(np.asarray(x), device=self.device, dtype=dtype)

    @torch.no_grad()
    def act(self, obs, state, *, explore: bool = True, reset=None):
        obs = obs_to_array(self.obs_space, obs)
        n = len(obs)
        if state is None:
            state = (self.wm.initial(n), torch.zeros(n, self.action_dim, device=self.device))
            first = np.ones(n, dtype=bool)
        else:
            first = np.zeros(n, dtype=bool) if reset is None else np.asarray(reset, dtype=bool)
        latent, prev_action = state
        if first.any():  # as the official obs_step: an episode start begins from the initial state
            f = self._tensor(first)
            init = self.wm.initial(n)
            latent = {k: torch.where(f.view(-1, *([1] * (v.dim() - 1))), init[k].to(v.dtype), v)
                      for k, v in latent.items()}
            prev_action = prev_action * (~f).to(prev_action.dtype).unsqueeze(-1)
        with self.fabric.autocast():
            return self._act(obs, latent, prev_action, first, explore)

    def _act(self, obs, latent, prev_action, first, explore):
        embed = self.wm.encode(self._tensor(obs, None if obs.dtype == np.uint8 else torch.float32))
        # evaluation (explore=False) is deterministic: latent modes and the greedy action
        self.wm.stochastic = explore
        try:
            post, _ = self.wm.observe(embed[:, None], prev_action[:, None],
                                      self._tensor(first, torch.float32)[:, None], latent)
        finally:
            self.wm.stochastic = True
        post = {k: v[:, 0] for k, v in post.items()}
        action = self._sample(self._actor_dist(self.wm.features(post, self.cfg.policy_inputs)), explore)
        return self._env_action(action), (post, action)

    @torch.no_grad()
    def latent_features(self, obs_seq, actions_seq) -> dict[str, torch.Tensor]:
        """:class:`intarsia.interfaces.Probeable`: per-step latent features of env sequences. ``obs_seq``
        (T, B, ...) and ``actions_seq`` (T, B, ...) as the envs give and take them, step 0 an episode start,
        ``actions_seq[t]`` taken after ``obs_seq[t]``. Returns ``{name: (T, B, D)}``: ``features`` (what the
        actor reads, ``policy_inputs``) and the world model's ``named_features`` (S3M: ``ssm.<i>`` per S5
        layer, ``deter``, ``posterior``). Deterministic (latent modes); training mode is left as found."""
        obs = np.stack([obs_to_array(self.obs_space, o) for o in obs_seq], 1)  # (B, T, ...)
        acts = np.stack([self._action_vector(a) for a in actions_seq], 1)
        prev = np.concatenate([np.zeros_like(acts[:, :1]), acts[:, :-1]], 1)
        first = np.zeros(obs.shape[:2], dtype=np.float32)
        first[:, 0] = 1.0
        modes = [(m, m.training) for m in self.wm.modules()]
        self.wm.eval()
        self.wm.stochastic = False
        try:
            embed = self.wm.encode(self._tensor(obs, None if obs.dtype == np.uint8 else torch.float32))
            post, _ = self.wm.observe(embed, self._tensor(prev, torch.float32), self._tensor(first))
            named = dict(self.wm.named_features(post)) if hasattr(self.wm, "named_features") else {}
            named["features"] = self.wm.features(post, self.cfg.policy_inputs)
        finally:
            self.wm.stochastic = True
            for m, mode in modes:
                m.train(mode)
        out = {k: v.reshape(*v.shape[:2], -1).transpose(0, 1).float() for k, v in named.items()}
        return out

    # -- data ----------------------------------------------------------------------------------
    def _action_vector(self, actions) -> np.ndarray:
        a = np.asarray(actions)
        if self.discrete:
            return np.eye(self.action_dim, dtype=np.float32)[a.astype(np.int64).reshape(-1)]
        low, high = self.action_space.low.reshape(-1), self.action_space.high.reshape(-1)
        return (2 * (a.reshape(len(a), -1) - low) / (high - low) - 1).astype(np.float32)

    def _reward_matrix(self, batch) -> np.ndarray:
        n = batch.num_envs
        if batch.reward_terms:
            cols = [np.asarray(batch.reward_terms.get(t, np.zeros(n)), dtype=np.float32) for t in self.terms]
            return np.stack(cols, -1)
        reward = batch.reward if batch.reward is not None else batch.env_reward
        out = np.zeros((n, len(self.terms)), dtype=np.float32)
        out[:, 0] = reward
        return out

    def observe(self, batch) -> None:
        obs = obs_to_array(self.obs_space, batch.obs)
        next_obs = obs_to_array(self.obs_space, batch.next_obs)
        actions = self._action_vector(batch.action)
        rewards = self._reward_matrix(batch)
        terminated, done = np.asarray(batch.terminated, bool), np.asarray(batch.done, bool)
        zeros = np.zeros(len(self.terms), dtype=np.float32)
        for i in range(batch.num_envs):
            if self._need_first[i]:
                self._slot[i] = self.replay.add(i, obs[i], zeros, True, False)
                self._need_first[i] = False
            self.replay.set_action(i, self._slot[i], actions[i])
            self._slot[i] = self.replay.add(i, next_obs[i], rewards[i], False, bool(terminated[i]))
            self._need_first[i] = bool(done[i])
        self.env_steps += batch.num_envs

    # -- learning ------------------------------------------------------------------------------
    def update(self, step: int) -> dict[str, float]:
        """Train as ``schedule`` says at global env step ``step`` (all ranks together): the first update at
        ``learning_starts``, then ``train_ratio / (batch_size * batch_length)`` per env step. Every rank
        sees the same ``step``, so all run the same updates; rounds due before the replay can give a
        batch are caught up."""
        if not self.replay.can_sample(self.cfg.batch_length):
            return {}
        metrics: dict[str, float] = {}
        for _ in range(self.schedule.due(step)):
            self._metrics.add(self.train_step())
            if self._metrics.due() or self.updates == 1:
                metrics = self._metrics.pop()
        return metrics

    def _sample_batch(self):
        cfg = self.cfg
        sample = self.replay.sample_online if cfg.replay_online else self.replay.sample
        data = sample(cfg.batch_size, cfg.batch_length, cfg.replay_episode_starts)
        obs = self._tensor(data["obs"], None if data["obs"].dtype == np.uint8 else torch.float32)
        rewards = self._tensor(data["rewards"], torch.float32)
        is_first = data["is_first"].copy()
        # as the official replays: every chunk's step 0 is marked is_first, so the SSM state and the action
        # restart there whatever the chunk-start rule (the carried posterior is the only state that crosses)
        is_first[:, 0] = True
        batch = {
            "obs": obs,
            "action": self._tensor(data["action"], torch.float32),
            "is_first": self._tensor(is_first, torch.float32),
            "is_terminal": self._tensor(data["is_terminal"], torch.float32),
            "rewards": {t: rewards[..., i] for i, t in enumerate(self.terms)},
        }
        # (a checkpoint's carry from a run with another batch size is not used)
        carry = self._carry
        if cfg.chunk_start == "carry" and carry and all(len(v) == cfg.batch_size for v in carry.values()):
            batch["state"] = carry
        return batch

    def _wm_loss(self, losses: dict) -> torch.Tensor:
        cfg = self.cfg
        scale = {"image": cfg.loss_image, "vector": cfg.loss_vector, "cont": cfg.loss_cont,
                 "dyn": cfg.loss_dyn, "rep": cfg.loss_rep}
        # terms of another world model that the agent has no weight for count once (WorldModel.loss)
        return sum(v * (cfg.loss_reward if k.startswith("reward/") else scale.get(k, 1.0)) for k, v in losses.items())

    def train_step(self) -> dict[str, torch.Tensor]:
        """One world-model and actor-critic update. Returns its metrics as detached tensors: reading them
        waits for the device, so :meth:`update` sums them and reads every ``metrics_every`` updates."""
        cfg = self.cfg
        batch = self._sample_batch()
        with self.fabric.autocast():
            losses, post = self.wm.loss(batch)
            wm_loss = self._wm_loss(losses)
        self._keep_carry(post)
        wm_norm = self._step_opt(wm_loss, self.wm_opt, self._wm_clip_groups, cfg.model_clip)
        start = {k: v.detach().flatten(0, 1) for k, v in post.items()}
        start_cont = 1.0 - batch["is_terminal"].flatten()
        if cfg.imag_starts and cfg.imag_starts < len(start_cont):
            keep = torch.randperm(len(start_cont), device=self.device)[: cfg.imag_starts]
            start = {k: v[keep] for k, v in start.items()}
            start_cont = start_cont[keep]
        metrics = self._train_actor_critic(start, start_cont)
        metrics.update({f"wm/{k}": v.detach() for k, v in losses.items()})
        metrics["wm/grad_norm"] = wm_norm
        self.updates += 1
        if self.updates % cfg.slow_critic_update == 0:
            with torch.no_grad():
                for s, p in zip(self.slow_critic.parameters(), self.critic.parameters(), strict=True):
                    s.lerp_(p, cfg.slow_critic_fraction)
        return metrics

    def _keep_carry(self, post: dict) -> None:
        """chunk_start 'carry': each row's last posterior starts the next update's row (the official train
        state; its action is the chunk's last, which step 0's is_first masks anyway)."""
        if self.cfg.chunk_start == "carry":
            self._carry = {k: v[:, -1].detach() for k, v in post.items()}

    def _imagine(self, start):
        """Roll the prior forward H steps with actor actions. Returns features (H+1, N, F), the states stacked
        ({key: (H+1, N, ...)}), actions (H, N, A). Discrete actions: no gradients through the model (REINFORCE); continuous:
        gradients flow through the dynamics into the actions (backprop). As officially, the actor always
        reads stop-gradient features (``actor(sg(s))``): gradients reach earlier actions only through the
        dynamics, not through later actions' inputs."""
        kind = self.cfg.policy_inputs
        states, actions = [start], []
        grad = not self.discrete
        with torch.set_grad_enabled(grad), self.wm.rollout():
            for _ in range(self.cfg.imag_horizon):
                feat = self.wm.features(states[-1], kind)
                dist = self._actor_dist(feat.detach())
                a = self._sample(dist, explore=True)
                actions.append(a)
                states.append(self.wm.imagine_step(states[-1], a))
            feats = torch.stack([self.wm.features(s, kind) for s in states])
            traj = {k: torch.stack([s[k] for s in states]) for k in states[0]}
        return feats, traj, torch.stack(actions)

    def _train_actor_critic(self, start, start_cont) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        with self.fabric.autocast():
            actor_loss, ret, weight, feats, scale, rewards = self._actor_objective(start, start_cont)
        actor_norm = self._step_opt(actor_loss, self.actor_opt, self.actor.parameters(), cfg.ac_clip)
        # critic: two-hot regression onto the returns + regulariser towards the slow critic
        with self.fabric.autocast():
            logits = self.critic(feats[:-1].detach())
            with torch.no_grad():
                slow = self.twohot.mean(self.slow_critic(feats[:-1].detach()))
            critic_loss = -self.twohot.log_prob(logits, ret.detach()) - cfg.slowreg * self.twohot.log_prob(logits, slow)
            critic_loss = (critic_loss * weight[:-1]).mean()
        critic_norm = self._step_opt(critic_loss, self.critic_opt, self.critic.parameters(), cfg.critic_clip)
        return {"loss/actor": actor_loss.detach(), "loss/critic": critic_loss.detach(),
                "ac/entropy": self._last_entropy,
                "ac/return": ret.detach().mean(), "ac/return_scale": scale.detach(),
                "ac/imag_reward": rewards.detach().mean(),
                "ac/actor_grad_norm": actor_norm, "ac/critic_grad_norm": critic_norm}

    def _actor_objective(self, start, start_cont):
        """Imagination from ``start`` and the actor loss on it (run under autocast by the caller)."""
        cfg = self.cfg
        trainable = [p for p in self.wm.parameters() if p.requires_grad]  # a frozen part stays frozen
        for p in trainable:
            p.requires_grad_(False)  # the actor/critic losses must not train the world model
        try:
            feats, traj, actions = self._imagine(start)
            later = {k: v[1:] for k, v in traj.items()}
            rewards = sum(self.wm.predict_rewards(later).values())  # (H, N)
            cont = torch.cat([start_cont[None], self._continue_flags(self.wm.predict_cont(later))], 0)
        finally:
            for p in trainable:
                p.requires_grad_(True)
        disc = 1.0 - 1.0 / cfg.horizon
        # continuous actions backprop through the value too (critic weights are not stepped by this loss)
        with torch.set_grad_enabled(not self.discrete):
            value = self.twohot.mean(self.critic(feats if not self.discrete else feats.detach()))  # (H+1, N)
        weight = torch.cumprod(disc * cont.detach(), 0) / disc
        # lambda-returns, bootstrapped from the last value
        lam = cfg.return_lambda
        interm = rewards + disc * cont[1:] * value[1:] * (1 - lam)
        rets = [value[-1]]
        for t in reversed(range(cfg.imag_horizon)):
            rets.append(interm[t] + disc * cont[t + 1] * lam * rets[-1])
        ret = torch.stack(rets[1:][::-1])  # (H, N)
        offset, scale = self.retnorm.update(ret)
        actor_loss = self._actor_loss(feats, actions, ret, value, weight, offset, scale)
        return actor_loss, ret, weight, feats, scale, rewards

    def _continue_flags(self, p_cont: torch.Tensor) -> torch.Tensor:
        """Continue flags of imagined steps from the cont head's probabilities: its mode (1 if p > 0.5), as
        the official ``heads['cont'](traj).mode()``, or the probability itself (``imag_cont: mean``)."""
        if self.cfg.imag_cont == "mode":
            return (p_cont > 0.5).to(p_cont.dtype)
        if self.cfg.imag_cont == "mean":
            return p_cont
        raise ValueError(f"imag_cont must be 'mode' or 'mean', got {self.cfg.imag_cont!r}")

    def _actor_loss(self, feats, actions, ret, value, weight, offset, scale) -> torch.Tensor:
        """The official actor loss. adv = normed return - normed baseline value; the baseline is *not*
        stop-gradient (continuous actions backprop through both; with REINFORCE adv is detached anyway).
        The actor reads stop-gradient features for its log-probability and entropy."""
        adv = (ret - offset) / scale - (value[:-1] - offset) / scale
        logp, ent = self._log_prob_entropy(self._actor_dist(feats[:-1].detach()), actions.detach())
        actor_obj = logp * adv.detach() if self.discrete else adv
        self._last_entropy = ent.detach().mean()
        return -((actor_obj + self.cfg.actent * ent) * weight[:-1].detach()).mean()

    # -- checkpointing -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {
            "world_model": self.wm.state_dict(), "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "slow_critic": self.slow_critic.state_dict(), "wm_opt": self.wm_opt.state_dict(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "retnorm": {"lo": self.retnorm.lo.clone(), "hi": self.retnorm.hi.clone()},
            "env_steps": int(self.env_steps), "updates": int(self.updates), "schedule": self.schedule.state_dict(),
        }
        if self._carry is not None:  # chunk_start 'carry': the next update starts from it
            state["carry"] = {k: v.clone() for k, v in self._carry.items()}
        if self.cfg.checkpoint_replay:
            state["replay"] = self.replay.state_dict()
            state["replay_cursor"] = {"slot": torch.from_numpy(self._slot.copy()),
                                      "need_first": torch.from_numpy(self._need_first.copy())}
        return state

    def load_state_dict(self, state) -> None:
        self.wm.load_state_dict(state["world_model"])
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.slow_critic.load_state_dict(state["slow_critic"])
        saved_groups, groups = len(state["wm_opt"]["param_groups"]), len(self.wm_opt.param_groups)
        if saved_groups != groups:  # checkpoints from before the official per-group clipping held 2 groups
            from intarsia.errors import IntarsiaError

            raise IntarsiaError(f"this checkpoint's world-model optimiser has {saved_groups} parameter groups, this "
                                f"agent has {groups} (one per clipping group, as the official code): it was saved by an "
                                "older intarsia-r2i; resume it with that version, or start the run anew")
        self.wm_opt.load_state_dict(state["wm_opt"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.retnorm.lo = state["retnorm"]["lo"].clone()
        self.retnorm.hi = state["retnorm"]["hi"].clone()
        self.env_steps, self.updates = int(state["env_steps"]), int(state["updates"])
        if "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])
        else:  # saved before the schedule, when env steps were counted per rank
            self.schedule.resume(self.env_steps * self.fabric.world_size)
        if "carry" in state:
            self._carry = {k: v.to(self.device) for k, v in state["carry"].items()}
        if "replay" in state:
            self.replay.load_state_dict(state["replay"])
            self._slot[...] = state["replay_cursor"]["slot"].numpy()
            self._need_first[...] = state["replay_cursor"]["need_first"].numpy()


def make_r2i(config: AgentConfig | None = None, *, env_spec, fabric) -> R2IAgent:
    """Policy ``r2i``: the agent, by default on the S3M world model."""
    return R2IAgent(config, env_spec=env_spec, fabric=fabric, default_world_model="s3m")


def make_dreamerv3(config: AgentConfig | None = None, *, env_spec, fabric) -> R2IAgent:
    """Policy ``dreamerv3``: the same agent, by default on the GRU-RSSM world model."""
    return R2IAgent(config, env_spec=env_spec, fabric=fabric, default_world_model="rssm")

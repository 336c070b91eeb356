"""World models behind one interface (:class:`intarsia.interfaces.WorldModel`).

* :class:`S3M` — R2I's structured state-space world model: the posterior z_t comes from the observation
  embedding only (non-recurrent representation model), so all posteriors of a chunk are computed at once;
  the sequence model is a stack of S5 blocks fed with (z_{t-1}, a_{t-1}) and run by a parallel scan; its
  output projection is the output state h_t, the prior of z_t is predicted from h_t.
* :class:`GRURSSM` — DreamerV3's recurrent state-space model (block-free GRU with LayerNorm; posterior from
  h_t and the embedding), the baseline.

Both share the DreamerV3 heads and losses: symlog-MSE vector decoder or an image CNN decoder, a two-hot
symlog reward head **per reward term**, a Bernoulli continue head, and KL balancing with free nats.

States are dicts of tensors with a leading batch axis: ``stoch`` (one-hot, (B, S, C)), ``logit``,
``deter`` (the output state h) and ``hidden`` (S3M: complex (B, layers, P) SSM states; RSSM: = deter).
``observe`` takes the *previous* action of each step (zeros where ``is_first``), as DreamerV3's does.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import WorldModelConfig
from .nets import (
    MLP,
    NORM_EPS,
    Dense,
    ImageDecoder,
    ImageEncoder,
    TwoHotSymlog,
    categorical_kl,
    linear,
    mode_onehot,
    sample_onehot,
    symlog,
    unimix_logits,
)
from .s5 import S5Stack

FEATURE_KINDS = ("output", "hidden", "full")


def obs_layout(space) -> tuple[str, tuple[int, ...]]:
    """('image', (H, W, C)) for uint8 HWC boxes, else ('vector', (dim,)); Discrete becomes one-hot."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return "vector", (int(space.n),)
    if isinstance(space, spaces.MultiDiscrete):
        return "vector", (int(np.sum(space.nvec)),)
    if isinstance(space, spaces.Box) and len(space.shape) == 3 and space.dtype == np.uint8:
        return "image", tuple(int(s) for s in space.shape)
    if isinstance(space, spaces.Box):
        return "vector", (int(np.prod(space.shape)),)
    raise TypeError(f"unsupported observation space {space}")


def action_layout(space) -> tuple[bool, int]:
    """(discrete, dim): one-hot size for Discrete, flat size for Box."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return True, int(space.n)
    if isinstance(space, spaces.Box):
        return False, int(np.prod(space.shape))
    raise TypeError(f"unsupported action space {space}")


def _key(term: str) -> str:
    return "t_" + re.sub(r"\W", "_", term)


class RegisteredEncoder(nn.Module):
    """A registered encoder (``encoders`` kind) as the world model's image encoder: uint8 HWC images ->
    float ``[0, 1]`` CHW at the encoder's ``image_shape`` (resized when the sizes differ) -> its output,
    flattened. ``frozen``: its weights get no gradients and it stays in eval mode."""

    def __init__(self, section: dict, obs_kind: str, obs_shape: tuple[int, ...]):
        from intarsia.build import build
        from intarsia.errors import ConfigError

        super().__init__()
        section = dict(section)
        self.frozen = bool(section.pop("frozen", False))
        if obs_kind != "image":
            raise ConfigError("world_model.encoder: a registered encoder reads images; this env's observations "
                              f"are vectors {obs_shape}")
        self.net = build("encoders", section)
        self.image_shape = tuple(int(n) for n in self.net.image_shape)
        if self.image_shape[0] != obs_shape[-1]:
            raise ConfigError(f"world_model.encoder: {section.get('name')!r} takes {self.image_shape[0]} channels, "
                              f"the env gives {obs_shape[-1]}")
        self.out_dim = int(np.prod(self.net.output_shape))
        if self.frozen:
            self.net.requires_grad_(False).eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.net.eval()
        return self

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        lead = img.shape[:-3]
        x = img.reshape(-1, *img.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
        if tuple(x.shape[-2:]) != self.image_shape[1:]:
            x = F.interpolate(x, size=self.image_shape[1:], mode="bilinear", antialias=True, align_corners=False)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.net(x)
        return out.reshape(*lead, self.out_dim)


class DreamerWorldModel(nn.Module):
    """Encoder, decoder, heads and losses; subclasses provide the latent dynamics."""

    def __init__(self, cfg: WorldModelConfig, *, obs_space, action_space, reward_terms=("extrinsic",)):
        super().__init__()
        self.cfg = cfg
        self.obs_kind, self.obs_shape = obs_layout(obs_space)
        self.discrete, self.action_dim = action_layout(action_space)
        self.reward_terms = tuple(reward_terms) or ("extrinsic",)
        self.stoch_dim = cfg.stoch * cfg.classes
        if cfg.encoder:
            self.encoder = RegisteredEncoder(cfg.encoder, self.obs_kind, self.obs_shape)
        elif self.obs_kind == "image":
            self.encoder = ImageEncoder(self.obs_shape, cfg.cnn_depth, cfg.cnn_minres)
        else:
            self.encoder = MLP(self.obs_shape[0], cfg.mlp_layers, cfg.mlp_units)
        self.embed_dim = self.encoder.out_dim
        head_in = self.feature_dim(cfg.head_inputs)
        if self.obs_kind == "image":
            self.decoder = ImageDecoder(head_in, self.obs_shape, cfg.cnn_depth, cfg.cnn_minres)
        else:
            self.decoder = MLP(head_in, cfg.mlp_layers, cfg.mlp_units, self.obs_shape[0])
        self.reward_heads = nn.ModuleDict({
            _key(t): MLP(head_in, cfg.head_layers, cfg.head_units, cfg.bins, zero_out=True)
            for t in self.reward_terms})
        if cfg.reward_out_std > 0:
            # a zero output layer (DreamerV3's outscale 0) gives the hidden layer no gradient until the output
            # grows along a direction *linearly* correlated with the reward; for rewards that are an
            # interaction (memory task: cue XOR action) that never happens and learning stalls
            for head in self.reward_heads.values():
                nn.init.normal_(head.head.weight, std=cfg.reward_out_std)
        self.cont_head = MLP(head_in, cfg.head_layers, cfg.head_units, 1)
        self.twohot = TwoHotSymlog(cfg.bins)

    # -- latent helpers ------------------------------------------------------------------------
    stochastic = True  # sample latents (False: use their modes, for deterministic checks)

    def _sample(self, logits: torch.Tensor) -> torch.Tensor:
        return sample_onehot(logits) if self.stochastic else mode_onehot(logits)

    def _stats(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        logits = layer(x).reshape(*x.shape[:-1], self.cfg.stoch, self.cfg.classes)
        return unimix_logits(logits, self.cfg.unimix)

    def hidden_dim(self) -> int:
        raise NotImplementedError

    def hidden_flat(self, state: dict) -> torch.Tensor:
        raise NotImplementedError

    def feature_dim(self, kind: str = "full") -> int:
        out = self.cfg.deter + self.stoch_dim
        if kind == "output":
            return out
        if kind == "hidden":
            return self.stoch_dim + self.hidden_dim()
        if kind == "full":
            return out + (self.hidden_dim() if self.has_separate_hidden else 0)
        raise ValueError(f"unknown feature kind {kind!r}; expected one of {FEATURE_KINDS}")

    has_separate_hidden = True

    def features(self, state: dict, kind: str = "full") -> torch.Tensor:
        """What actor/critic (``kind`` from the agent's ``policy_inputs``) or heads (``output``) read."""
        stoch = state["stoch"].flatten(-2)
        if kind == "output":
            return torch.cat([state["deter"], stoch], -1)
        if kind == "hidden":
            return torch.cat([stoch, self.hidden_flat(state)], -1)
        if kind == "full":
            parts = [state["deter"], stoch]
            if self.has_separate_hidden:
                parts.append(self.hidden_flat(state))
            return torch.cat(parts, -1)
        raise ValueError(f"unknown feature kind {kind!r}; expected one of {FEATURE_KINDS}")

    def clip_action(self, action: torch.Tensor) -> torch.Tensor:
        """The official ``action_clip``: actions the dynamics read are scaled by sg(clip / max(clip, |a|))
        (elementwise), so an imagined continuous action outside [-clip, clip] enters the model clipped while
        its gradient keeps flowing (scaled). One-hot actions are unchanged. ``action_clip: 0`` turns it off."""
        clip = self.cfg.action_clip
        if clip <= 0:
            return action
        return action * (clip / torch.clamp(action.abs(), min=clip)).detach()

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        if self.obs_kind == "image":
            return self.encoder(obs)
        return self.encoder(symlog(obs.float()))

    # -- heads ---------------------------------------------------------------------------------
    def predict_rewards(self, state: dict) -> dict[str, torch.Tensor]:
        """Mean prediction of each reward term (already coefficient-weighted, as the runner emits them) for
        states with any leading axes; the heads read ``features(state, cfg.head_inputs)``."""
        feat = self.features(state, self.cfg.head_inputs)
        return {t: self.twohot.mean(self.reward_heads[_key(t)](feat)) for t in self.reward_terms}

    def predict_cont(self, state: dict) -> torch.Tensor:
        """Probability that the episode continues after each state."""
        return torch.sigmoid(self.cont_head(self.features(state, self.cfg.head_inputs)).squeeze(-1))

    def named_features(self, state: dict) -> dict[str, torch.Tensor]:
        """The state's parts by name, for probes: ``deter`` (the output state h) and ``posterior`` (the
        latent's logits, flattened); S3M adds ``ssm.<i>`` (layer i's complex state, real and imaginary)."""
        return {"deter": state["deter"], "posterior": state["logit"].flatten(-2)}

    # -- training ------------------------------------------------------------------------------
    def loss(self, batch) -> tuple[dict, dict]:
        """Named, unweighted loss terms and the posterior states.

        ``batch``: ``obs`` (B, T, ...), ``action`` (B, T, A) taken at each step, ``is_first`` and
        ``is_terminal`` (B, T), ``rewards`` {term: (B, T)} (reward received on arriving at each step);
        optional ``state``: the state before step 0 (the agent's chunk-start rule; none: :meth:`initial`).
        """
        obs, action = batch["obs"], batch["action"]
        is_first = batch["is_first"].float()
        prev_action = torch.cat([torch.zeros_like(action[:, :1]), action[:, :-1]], 1)
        embed = self.encode(obs)
        post, prior = self.observe(embed, prev_action, is_first, batch.get("state"))
        feat = self.features(post, self.cfg.head_inputs)
        losses = {}
        recon = self.decoder(feat)
        if self.obs_kind == "image":
            target = obs.float() / 255.0 - 0.5
            losses["image"] = (recon - target).square().sum((-3, -2, -1)).mean()
        else:
            target = symlog(obs.float())
            losses["vector"] = (recon - target).square().sum(-1).mean()
        for term in self.reward_terms:
            logits = self.reward_heads[_key(term)](feat)
            losses[f"reward/{term}"] = -self.twohot.log_prob(logits, batch["rewards"][term].float()).mean()
        cont_target = 1.0 - batch["is_terminal"].float()
        losses["cont"] = F.binary_cross_entropy_with_logits(self.cont_head(feat).squeeze(-1), cont_target)
        free = self.cfg.free_nats
        dyn = categorical_kl(post["logit"].detach(), prior["logit"])
        rep = categorical_kl(post["logit"], prior["logit"].detach())
        losses["dyn"] = dyn.clamp(min=free).mean()
        losses["rep"] = rep.clamp(min=free).mean()
        return losses, post

    # -- dynamics (subclasses) -----------------------------------------------------------------
    def rollout(self):
        """Context for a run of :meth:`imagine_step` calls (S3M discretises its SSMs once)."""
        return contextlib.nullcontext()

    def initial(self, batch_size: int) -> dict:
        raise NotImplementedError

    def observe(self, embeds, actions, is_first, state=None):
        raise NotImplementedError

    def imagine_step(self, state: dict, action: torch.Tensor) -> dict:
        raise NotImplementedError


class S3M(DreamerWorldModel):
    """R2I's S5-based world model."""

    def __init__(self, cfg: WorldModelConfig, *, obs_space, action_space, reward_terms=("extrinsic",)):
        super().__init__(cfg, obs_space=obs_space, action_space=action_space, reward_terms=reward_terms)
        self.img_in = Dense(self.stoch_dim + self.action_dim, cfg.units)
        self.ssm = S5Stack(cfg.units, self.ssm_states, cfg.ssm_layers, blocks=cfg.ssm_blocks,
                           discretization=cfg.discretization, dt_min=cfg.dt_min, dt_max=cfg.dt_max,
                           conj_sym=cfg.conj_sym, clip_eigs=cfg.clip_eigs, scan=cfg.scan, c_init=cfg.c_init)
        # official out_proj: Linear (with bias) and the SiLU activation, no norm
        self.out_proj = Dense(cfg.units, cfg.deter) if cfg.out_proj_norm else nn.Sequential(
            linear(cfg.units, cfg.deter), nn.SiLU())
        self.img_out = Dense(cfg.deter, cfg.units)
        # the official latent-statistics layers take no config options: its Linear's default (uniform) init
        self.img_stats = linear(cfg.units, self.stoch_dim, init="uniform")
        self.obs_out = Dense(self.embed_dim, cfg.units)
        self.obs_stats = linear(cfg.units, self.stoch_dim, init="uniform")
        # learned initial state: SSM states (real, imag) per layer and an initial output state
        self.init_hidden = nn.Parameter(torch.zeros(2, cfg.ssm_layers, self.ssm_states))
        self.init_deter = nn.Parameter(torch.zeros(cfg.deter))

    @property
    def ssm_states(self) -> int:
        """Complex states stored per S5 layer: with conjugate symmetry the official code halves P."""
        return self.cfg.ssm_state // 2 if self.cfg.conj_sym else self.cfg.ssm_state

    def hidden_dim(self) -> int:
        return 2 * self.cfg.ssm_layers * self.ssm_states

    def hidden_flat(self, state):
        h = state["hidden"]  # complex64 under any precision (s5.py); the features take the model's dtype
        return torch.cat([h.real, h.imag], -1).flatten(-2).to(state["deter"].dtype)

    def named_features(self, state):
        h = state["hidden"]
        layers = {f"ssm.{i}": torch.cat([h[..., i, :].real, h[..., i, :].imag], -1) for i in range(h.shape[-2])}
        return {**layers, **super().named_features(state)}

    SSM_GROUPS = {"lambda_re": "Lambda_re", "lambda_im": "Lambda_im", "b_re": "B", "b_im": "B", "c_re": "C",
                  "c_im": "C", "d": "D", "log_step": "log_step"}
    """S5 parameter -> its official optimiser group (``model_opt_group_keys``: one label per parameter name,
    over all layers; B and C are one (re, im) array each officially)"""

    def ssm_parameters(self):
        """Parameters of the S5 layers proper (no weight decay, as the official optimiser groups them)."""
        return [p for group in self.ssm_parameter_groups().values() for p in group]

    def ssm_parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The S5 parameters by official optimiser group (six groups, each clipped on its own)."""
        groups: dict[str, list[nn.Parameter]] = {}
        for name, p in self.ssm.named_parameters():
            if ".ssm." in f".{name}":
                groups.setdefault(self.SSM_GROUPS[name.rsplit(".", 1)[-1]], []).append(p)
        return groups

    def _x_init(self) -> torch.Tensor:
        return torch.complex(self.init_hidden[0].float(), self.init_hidden[1].float())  # (L, P), complex64

    def initial(self, batch_size: int) -> dict:
        deter = torch.tanh(self.init_deter).expand(batch_size, -1)
        logit = self._stats(lambda x: self.img_stats(self.img_out(x)), deter)
        hidden = self._x_init().expand(batch_size, -1, -1)
        return {"deter": deter, "hidden": hidden, "logit": logit, "stoch": mode_onehot(logit)}

    def observe(self, embeds, actions, is_first, state=None):
        B, T = is_first.shape[:2]
        init = self.initial(B)
        state = init if state is None else state
        is_first = is_first.float()
        post_logit = self._stats(lambda x: self.obs_stats(self.obs_out(x)), embeds)
        post_stoch = self._sample(post_logit)
        # teacher forcing: the sequence model reads the previous posterior sample and action. At an episode
        # start the action is masked and the SSM state reset (below); the previous posterior is never
        # replaced, as in the official observe_nonrecurrent_enc: step 0 reads state["stoch"] (whatever the
        # caller passes: the agent's chunk-start rule, or at acting the initial latent after a reset), and
        # mid-chunk the new episode's first step reads the old episode's last posterior
        prev_stoch = torch.cat([state["stoch"].unsqueeze(1), post_stoch[:, :-1]], 1)
        if self.cfg.reset_stoch_mid_chunk:
            first = is_first[..., None, None]
            prev_stoch = prev_stoch * (1 - first) + init["stoch"].unsqueeze(1) * first
        prev_action = self.clip_action(actions) * (1 - is_first.unsqueeze(-1))
        u = self.img_in(torch.cat([prev_stoch.flatten(-2), prev_action], -1))
        out, hidden = self.ssm(u, state["hidden"], reset=is_first, x_init=self._x_init())
        deter = self.out_proj(out)
        prior_logit = self._stats(lambda x: self.img_stats(self.img_out(x)), deter)
        post = {"deter": deter, "hidden": hidden, "logit": post_logit, "stoch": post_stoch}
        prior = {"deter": deter, "hidden": hidden, "logit": prior_logit, "stoch": self._sample(prior_logit)}
        return post, prior

    def rollout(self):
        return self.ssm.cached()

    def imagine_step(self, state, action):
        u = self.img_in(torch.cat([state["stoch"].flatten(-2), self.clip_action(action)], -1))
        out, hidden = self.ssm.step(u, state["hidden"])
        deter = self.out_proj(out)
        logit = self._stats(lambda x: self.img_stats(self.img_out(x)), deter)
        return {"deter": deter, "hidden": hidden, "logit": logit, "stoch": self._sample(logit)}


class GRURSSM(DreamerWorldModel):
    """DreamerV3's GRU-RSSM (recurrent posterior), the baseline."""

    has_separate_hidden = False

    def __init__(self, cfg: WorldModelConfig, *, obs_space, action_space, reward_terms=("extrinsic",)):
        super().__init__(cfg, obs_space=obs_space, action_space=action_space, reward_terms=reward_terms)
        self.img_in = Dense(self.stoch_dim + self.action_dim, cfg.units)
        self.gru = linear(cfg.units + cfg.deter, 3 * cfg.deter, bias=False)
        self.gru_norm = nn.LayerNorm(3 * cfg.deter, eps=NORM_EPS)
        self.img_out = Dense(cfg.deter, cfg.units)
        self.img_stats = linear(cfg.units, self.stoch_dim, init="uniform")
        self.obs_out = Dense(cfg.deter + self.embed_dim, cfg.units)
        self.obs_stats = linear(cfg.units, self.stoch_dim, init="uniform")
        self.init_deter = nn.Parameter(torch.zeros(cfg.deter))

    def hidden_dim(self) -> int:
        return self.cfg.deter

    def hidden_flat(self, state):
        return state["deter"]

    def initial(self, batch_size: int) -> dict:
        deter = torch.tanh(self.init_deter).expand(batch_size, -1)
        logit = self._stats(lambda x: self.img_stats(self.img_out(x)), deter)
        return {"deter": deter, "hidden": deter, "logit": logit, "stoch": mode_onehot(logit)}

    def _cell(self, deter, x):
        parts = self.gru_norm(self.gru(torch.cat([x, deter], -1)))
        reset, cand, update = parts.chunk(3, -1)
        cand = torch.tanh(torch.sigmoid(reset) * cand)
        update = torch.sigmoid(update - 1.0)
        return update * cand + (1 - update) * deter

    def imagine_step(self, state, action):
        x = self.img_in(torch.cat([state["stoch"].flatten(-2), self.clip_action(action)], -1))
        deter = self._cell(state["deter"], x)
        logit = self._stats(lambda h: self.img_stats(self.img_out(h)), deter)
        return {"deter": deter, "hidden": deter, "logit": logit, "stoch": self._sample(logit)}

    def observe(self, embeds, actions, is_first, state=None):
        B, T = is_first.shape[:2]
        init = self.initial(B)
        state = init if state is None else state
        is_first = is_first.float()
        posts, priors = [], []
        for t in range(T):
            f = is_first[:, t]
            prev = {k: state[k] * (1 - f.view(-1, *([1] * (state[k].dim() - 1))))
                    + init[k] * f.view(-1, *([1] * (init[k].dim() - 1))) for k in ("deter", "stoch")}
            prior = self.imagine_step(prev, actions[:, t] * (1 - f.unsqueeze(-1)))
            logit = self._stats(lambda x: self.obs_stats(self.obs_out(x)),
                                torch.cat([prior["deter"], embeds[:, t]], -1))
            state = {"deter": prior["deter"], "hidden": prior["deter"], "logit": logit,
                     "stoch": self._sample(logit)}
            posts.append(state)
            priors.append(prior)
        stack = lambda seq: {k: torch.stack([s[k] for s in seq], 1) for k in seq[0]}  # noqa: E731
        return stack(posts), stack(priors)


def make_s3m(config: WorldModelConfig | None = None, *, obs_space, action_space, reward_terms=("extrinsic",)):
    """Registry factory of the ``s3m`` world model."""
    return S3M(config or WorldModelConfig(), obs_space=obs_space, action_space=action_space,
               reward_terms=reward_terms)


def make_rssm(config: WorldModelConfig | None = None, *, obs_space, action_space, reward_terms=("extrinsic",)):
    """Registry factory of the ``rssm`` world model."""
    return GRURSSM(config or WorldModelConfig(), obs_space=obs_space, action_space=action_space,
                   reward_terms=reward_terms)

"""Trajectories: batched forward rollouts (with exploration), backward rollouts from terminal objects
(replay, hindsight), and scoring a batch with the networks (the log-probabilities every loss needs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .dag import DAGEnv
from .networks import masked_log_softmax


@dataclass
class Trajectories:
    """``n`` trajectories padded to the env's ``max_length``.

    ``states[:, t]`` is s_t for t < length (s_{length-1} is the terminal object x; the last action is exit);
    ``actions[:, t]`` is a_t for t < length; padding repeats the terminal state and the exit action.
    """

    states: torch.Tensor  # (n, T, *state_shape)
    actions: torch.Tensor  # (n, T)
    lengths: torch.Tensor  # (n,) actions taken, exit included
    log_rewards: torch.Tensor | None = None  # (n,)

    @property
    def terminals(self) -> torch.Tensor:
        return self.states[torch.arange(len(self.lengths), device=self.lengths.device), self.lengths - 1]

    def __len__(self) -> int:
        return len(self.lengths)

    @staticmethod
    def cat(parts: list[Trajectories]) -> Trajectories:
        parts = [p for p in parts if p is not None and len(p)]
        logr = None if any(p.log_rewards is None for p in parts) else torch.cat([p.log_rewards for p in parts])
        return Trajectories(torch.cat([p.states for p in parts]), torch.cat([p.actions for p in parts]),
                            torch.cat([p.lengths for p in parts]), logr)


LogitsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(states (k, ...), rows (k,) of the batch they belong to) -> forward logits (k, n_actions)"""


def exploration_probs(logits, mask, *, epsilon: float = 0.0, temperature: float = 1.0):
    if temperature != 1.0:
        logits = logits / temperature
    probs = logits.masked_fill(~mask, float("-inf")).softmax(-1)
    if epsilon > 0:
        uniform = mask.float() / mask.sum(-1, keepdim=True)
        probs = (1 - epsilon) * probs + epsilon * uniform
    return probs


GATHER_FROM = 256
SYNC_EVERY = 8
"""steps between host-side checks that every row of a (non-gathering) rollout has exited"""


def categorical(probs: torch.Tensor) -> torch.Tensor:
    """One draw per row by inverting the CDF (a few fused ops; torch.multinomial is slower on small rows).
    Rows whose CDF ends just below 1 by rounding fall back to their last allowed entry."""
    u = torch.rand(len(probs), 1, device=probs.device, dtype=probs.dtype)
    cdf = probs.cumsum(-1)
    idx = (cdf <= u).sum(-1)
    last = probs.shape[1] - 1 - (probs.flip(-1) > 0).int().argmax(-1)
    return torch.minimum(idx, last)


def sample_forward(env: DAGEnv, logits_fn: LogitsFn, n: int, *, epsilon: float = 0.0,
                   temperature: float = 1.0) -> Trajectories:
    """Roll out ``n`` trajectories from s_0 (no gradients). Small batches evaluate every row at every step
    (finished rows are masked): gathering the unfinished rows costs more than the few wasted rows. From
    ``GATHER_FROM`` rows on, only unfinished rows are evaluated: trajectory lengths spread widely (4D
    HyperGrid: a few steps on average, up to 29), so most rows would be wasted work."""
    with torch.no_grad():
        traj, _ = _rollout(env, logits_fn, n, epsilon, temperature, None)
    return traj


def sample_and_score(env: DAGEnv, net, n: int, *, epsilon: float = 0.0,
                     temperature: float = 1.0) -> tuple[Trajectories, Scores]:
    """An on-policy batch scored while it is rolled out: the network runs once per visited state, with
    gradients, and each step reads P_F of the action taken, log F of the state and P_B of the move that led
    there. ``score`` on the returned trajectories gives the same numbers (tested); this path saves the
    second pass over every visited state and the gather of its activations (torchgfn likewise keeps the
    rollout's log-probabilities). Exploration only changes which action is drawn, never the scores.
    ``net`` is a :class:`GFlowNetHeads` without an outcome condition."""
    return _rollout(env, None, n, epsilon, temperature, net)


def _rollout(env, logits_fn, n, epsilon, temperature, net) -> tuple[Trajectories, Scores | None]:
    T, exit_a = env.max_length, env.exit_action
    states = env.initial_states(n)
    device = states.device
    rows = torch.arange(n, device=device)
    out_states, out_actions = [], []
    lengths = torch.full((n,), T, dtype=torch.long, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    gather = net is not None or n >= GATHER_FROM
    # scored entries as (rows, step, value) per step; assembled into (n, T) tensors once at the end
    pf_parts, f_parts, pb_parts = [], [], []
    prev_a = None
    for t in range(T):
        out_states.append(states)
        live = torch.nonzero(~done).squeeze(1) if gather else rows
        cur = states[live] if gather else states
        fmask = env.forward_mask(cur)
        if net is not None:
            pf_logits, pb_logits, log_f = net(env.features(cur))
            logp = masked_log_softmax(pf_logits, fmask)
            if epsilon == 0.0 and temperature == 1.0:
                probs = logp.detach().exp()
            else:
                probs = exploration_probs(pf_logits.detach(), fmask, epsilon=epsilon, temperature=temperature)
        else:
            probs = exploration_probs(logits_fn(cur, live), fmask, epsilon=epsilon, temperature=temperature)
        drawn = categorical(probs)
        if gather:
            a = torch.full((n,), exit_a, dtype=torch.long, device=device)
            a[live] = drawn
        else:
            a = torch.where(done, exit_a, drawn)
        if net is not None:
            steps = torch.full_like(live, t)
            pf_parts.append((live, steps, logp.gather(1, drawn[:, None]).squeeze(1)))
            f_parts.append((live, steps, log_f))
            if t > 0:  # every live row at t > 0 got here by a move: P_B(s_{t-1} | s_t) of that move
                logp_b = masked_log_softmax(pb_logits, env.backward_mask(cur))
                pb_parts.append((live, steps - 1, logp_b.gather(1, prev_a[live][:, None]).squeeze(1)))
        out_actions.append(a)
        prev_a = a
        exiting = (a == exit_a) & ~done
        lengths = torch.where(exiting, t + 1, lengths)
        done = done | exiting
        # reading ``done`` on the host stalls a GPU stream: check every SYNC_EVERY steps (finished rows just
        # repeat exit meanwhile); the gathering path synchronises in ``nonzero`` anyway, so it checks each step
        if (gather or (t + 1) % SYNC_EVERY == 0) and bool(done.all()):
            break
        states = env.step(states, a)  # exit leaves a state unchanged
    k = len(out_states)
    st = torch.stack(out_states, 1)
    ac = torch.stack(out_actions, 1)
    if k < T:  # pad to max_length with the terminal state and exit
        st = torch.cat([st, st[:, -1:].expand(n, T - k, *st.shape[2:])], 1)
        ac = torch.cat([ac, ac.new_full((n, T - k), exit_a)], 1)
    traj = Trajectories(st, ac, lengths)
    if net is None:
        return traj, None

    def assemble(parts):
        if not parts:
            return torch.zeros(n, T, device=device)
        r, c, v = (torch.cat(x) for x in zip(*parts))
        return v.new_zeros(n, T).index_put((r, c), v)

    return traj, Scores(assemble(pf_parts), assemble(pb_parts), assemble(f_parts), lengths)


@torch.no_grad()
def sample_backward(env: DAGEnv, backward_logits_fn: LogitsFn, terminals: torch.Tensor) -> Trajectories:
    """Trajectories ending in ``terminals``, drawn backwards with P_B and returned in forward order."""
    n, T = len(terminals), env.max_length
    rev = [terminals.clone()]
    rev_actions: list[torch.Tensor] = []
    steps = torch.zeros(n, dtype=torch.long, device=terminals.device)  # non-exit steps per row
    states = terminals.clone()
    for _ in range(T - 1):
        active = torch.nonzero(~env.is_initial(states)).squeeze(1)
        a = torch.zeros(n, dtype=torch.long, device=states.device)
        if len(active):
            cur = states[active]
            mask = env.backward_mask(cur)
            probs = masked_log_softmax(backward_logits_fn(cur, active), mask).exp()
            a[active] = torch.multinomial(probs, 1).squeeze(1)
            states = states.clone()
            states[active] = env.backward_step(cur, a[active])
            steps[active] += 1
        rev.append(states.clone())
        rev_actions.append(a)
    rev_states = torch.stack(rev, 1)  # (n, T, ...): x, parent, ..., s_0, s_0, ...
    rev_a = torch.stack(rev_actions, 1) if rev_actions else torch.zeros(n, 0, dtype=torch.long, device=terminals.device)
    t = torch.arange(T, device=terminals.device)[None]
    src = (steps[:, None] - t).clamp(min=0)  # forward position t is reverse position steps - t
    idx = src.view(n, T, *([1] * (terminals.dim() - 1))).expand_as(rev_states)
    fwd_states = torch.gather(rev_states, 1, idx)
    lengths = steps + 1
    # forward action a_t (t < steps) undoes the reverse step steps-1-t
    a_src = (steps[:, None] - 1 - t[:, : T - 1]).clamp(min=0)
    fwd_a = torch.full((n, T), env.exit_action, dtype=torch.long, device=terminals.device)
    if rev_a.shape[1]:
        fwd_a[:, : T - 1] = torch.where(t[:, : T - 1] < steps[:, None], torch.gather(rev_a, 1, a_src), env.exit_action)
    return Trajectories(fwd_states, fwd_a, lengths)


@dataclass
class Scores:
    """What the losses consume; entries at t >= length are 0."""

    log_pf: torch.Tensor  # (n, T) log P_F(a_t | s_t), the exit included
    log_pb: torch.Tensor  # (n, T) log P_B(s_t | s_{t+1}) for t < length-1 (0 for the exit)
    log_f: torch.Tensor  # (n, T) log F(s_t)
    lengths: torch.Tensor


def score(env: DAGEnv, net, traj: Trajectories, condition: torch.Tensor | None = None) -> Scores:
    """One batched network call over every visited state of every trajectory.

    ``condition`` (n, c) is appended to each state's features (the outcome of an OC-GFN)."""
    n, T = traj.actions.shape
    t = torch.arange(T, device=traj.lengths.device)[None]
    valid = t < traj.lengths[:, None]
    flat = traj.states[valid]
    x = env.features(flat)
    if condition is not None:
        x = torch.cat([x, condition[:, None].expand(-1, T, -1)[valid]], dim=1)
    pf_logits, pb_logits, log_f_flat = net(x)
    actions = traj.actions[valid]
    log_pf_flat = masked_log_softmax(pf_logits, env.forward_mask(flat)).gather(1, actions[:, None]).squeeze(1)
    bmask = env.backward_mask(flat)
    pb_all = masked_log_softmax(pb_logits, bmask)

    def pad(v):
        out = v.new_zeros(n, T)
        out[valid] = v
        return out

    log_pf, log_f = pad(log_pf_flat), pad(log_f_flat)
    # P_B of transition t is read at s_{t+1} for the action a_t that led there
    nxt = torch.zeros(n, T, dtype=torch.bool, device=valid.device)
    nxt[:, 1:] = valid[:, 1:]  # positions t+1 that are states reached by a non-exit action
    prev_a = torch.zeros(n, T, dtype=torch.long, device=valid.device)
    prev_a[:, 1:] = traj.actions[:, :-1]
    pb_valid = pb_all[nxt[valid]]
    pb_read = pb_valid.gather(1, prev_a[nxt][:, None]).squeeze(1)
    log_pb = log_pf.new_zeros(n, T)
    shifted = torch.zeros_like(nxt)
    shifted[:, :-1] = nxt[:, 1:]
    log_pb[shifted] = pb_read
    return Scores(log_pf, log_pb, log_f, traj.lengths)

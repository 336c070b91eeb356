"""Per-episode bookkeeping: returns (extrinsic and per reward term), lengths, success."""

from __future__ import annotations

from collections import deque

import numpy as np


class EpisodeTracker:
    def __init__(self, num_envs: int, terms: list[str], window: int = 100):
        self.terms = terms
        self.ret = np.zeros(num_envs)
        self.len = np.zeros(num_envs, dtype=np.int64)
        self.term_ret = {t: np.zeros(num_envs) for t in terms}
        self.window = window
        self.done_returns: deque = deque(maxlen=window)
        self.done_lengths: deque = deque(maxlen=window)
        self.done_success: deque = deque(maxlen=window)
        self.done_terms = {t: deque(maxlen=window) for t in terms}
        self.episodes = 0
        # since-last-log accumulators (summed across ranks at log time)
        self.recent = {"episodes": 0.0, "return": 0.0, "length": 0.0, "success_n": 0.0, "success": 0.0}
        self.recent_terms = {t: 0.0 for t in terms}

    def add(self, env_reward, terms: dict, done, infos) -> None:
        self.ret += env_reward
        self.len += 1
        for t in self.terms:
            self.term_ret[t] += terms[t]
        for i in np.flatnonzero(done):
            self.episodes += 1
            self.done_returns.append(float(self.ret[i]))
            self.done_lengths.append(int(self.len[i]))
            self.recent["episodes"] += 1
            self.recent["return"] += float(self.ret[i])
            self.recent["length"] += float(self.len[i])
            if "success" in infos[i]:
                s = float(bool(infos[i]["success"]))
                self.done_success.append(s)
                self.recent["success_n"] += 1
                self.recent["success"] += s
            for t in self.terms:
                self.done_terms[t].append(float(self.term_ret[t][i]))
                self.recent_terms[t] += float(self.term_ret[t][i])
                self.term_ret[t][i] = 0.0
            self.ret[i] = 0.0
            self.len[i] = 0

    def pop_recent(self) -> list[float]:
        """Since-last-log sums as a flat vector (fixed order), then cleared."""
        vec = [self.recent[k] for k in ("episodes", "return", "length", "success_n", "success")]
        vec += [self.recent_terms[t] for t in self.terms]
        self.recent = {k: 0.0 for k in self.recent}
        self.recent_terms = {t: 0.0 for t in self.terms}
        return vec

    def summarize(self, vec: list[float]) -> dict[str, float]:
        n, ret, length, succ_n, succ = vec[:5]
        out: dict[str, float] = {}
        if n > 0:
            out["episode/return"] = ret / n
            out["episode/length"] = length / n
            for t, v in zip(self.terms, vec[5:]):
                out[f"reward/{t}"] = v / n
        if succ_n > 0:
            out["episode/success"] = succ / succ_n
        return out

    def window_stats(self) -> dict[str, float]:
        out: dict[str, float] = {"episodes": float(self.episodes)}
        if self.done_returns:
            out["return_mean"] = float(np.mean(self.done_returns))
            out["length_mean"] = float(np.mean(self.done_lengths))
            for t in self.terms:
                out[f"reward_{t}_mean"] = float(np.mean(self.done_terms[t]))
        if self.done_success:
            out["success_rate"] = float(np.mean(self.done_success))
        return out

    def state_dict(self) -> dict:
        return {"episodes": self.episodes, "returns": list(self.done_returns), "lengths": list(self.done_lengths),
                "success": list(self.done_success), "terms": {t: list(v) for t, v in self.done_terms.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.episodes = int(state["episodes"])
        self.done_returns.extend(state["returns"])
        self.done_lengths.extend(state["lengths"])
        self.done_success.extend(state["success"])
        for t, v in state["terms"].items():
            if t in self.done_terms:
                self.done_terms[t].extend(v)

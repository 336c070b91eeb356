import math

import pytest
import torch
from intarsia_gfn.config import EnvConfig
from intarsia_gfn.envs import make_env
from intarsia_gfn.losses import tb_residuals
from intarsia_gfn.networks import GFlowNetHeads
from intarsia_gfn.trajectories import GATHER_FROM, sample_and_score, sample_backward, sample_forward, score


def check_valid(env, traj):
    for b in range(len(traj)):
        n = int(traj.lengths[b])
        assert env.is_initial(traj.states[b, :1]).all()
        for t in range(n - 1):
            a = traj.actions[b, t : t + 1]
            assert env.forward_mask(traj.states[b, t : t + 1])[0, a[0]]
            assert torch.equal(env.step(traj.states[b, t : t + 1], a), traj.states[b, t + 1 : t + 2])
        assert int(traj.actions[b, n - 1]) == env.exit_action


@pytest.mark.parametrize("cfg", [EnvConfig(ndim=3, height=4), EnvConfig(name="bitseq", length=6, word=2)],
                         ids=lambda c: c.name)
@pytest.mark.parametrize("n", [32, GATHER_FROM + 8])  # both rollout paths: all rows, unfinished rows only
def test_forward_and_backward_rollouts_are_valid_trajectories(cfg, n):
    env = make_env(cfg)
    net = GFlowNetHeads(env.feature_dim, env.n_actions, 16, 1)
    fwd = sample_forward(env, lambda s, r: net.forward_logits(env.features(s)), n, epsilon=0.3)
    check_valid(env, fwd)
    back = sample_backward(env, lambda s, r: net(env.features(s))[1], fwd.terminals)
    check_valid(env, back)
    assert torch.equal(back.terminals, fwd.terminals)


class Table(torch.nn.Module):
    """A tabular "network" on one-hot features: fixed logits per state."""

    def __init__(self, pf, pb, logf):
        super().__init__()
        self.pf, self.pb, self.logf = pf, pb, logf

    def forward(self, x):
        i = x.argmax(1)
        return self.pf[i], self.pb[i], self.logf[i]


def test_score_reads_the_right_probabilities_on_the_three_state_dag():
    env = make_env(EnvConfig(ndim=1, height=3))  # s0 -> s1 -> s2, exit anywhere
    pf = torch.tensor([[math.log(0.7), math.log(0.3)], [math.log(0.6), math.log(0.4)], [0.0, 0.0]])
    net = Table(pf, torch.zeros(3, 1), torch.tensor([1.2, 0.3, -0.5]))
    traj = sample_backward(env, lambda s, r: torch.zeros(len(s), 1), torch.tensor([[1], [2]]))
    sc = score(env, net, traj)
    # s0 -> s1 -> exit: P_F = 0.7, 0.4; s0 -> s1 -> s2 -> exit: 0.7, 0.6, 1 (only exit allowed at s2)
    torch.testing.assert_close(sc.log_pf.exp(), torch.tensor([[0.7, 0.4, 1.0], [0.7, 0.6, 1.0]]))
    torch.testing.assert_close(sc.log_pb, torch.zeros(2, 3))  # one parent each
    torch.testing.assert_close(sc.log_f, torch.tensor([[1.2, 0.3, 0.0], [1.2, 0.3, -0.5]]))


@pytest.mark.parametrize("epsilon", [0.0, 0.5])
def test_scores_taken_during_the_rollout_equal_recomputed_ones(epsilon):
    env = make_env(EnvConfig(ndim=3, height=4))
    torch.manual_seed(0)
    net = GFlowNetHeads(env.feature_dim, env.n_actions, 16, 1)
    traj, kept = sample_and_score(env, net, GATHER_FROM + 8, epsilon=epsilon)
    assert kept.log_pf.requires_grad and kept.log_pb.requires_grad and kept.log_f.requires_grad
    check_valid(env, traj)
    again = score(env, net, traj)
    for a, b in zip((kept.log_pf, kept.log_pb, kept.log_f), (again.log_pf, again.log_pb, again.log_f)):
        torch.testing.assert_close(a, b)
    # and the gradients of a loss through either agree
    log_r = env.log_reward(traj.terminals)
    g1 = torch.autograd.grad(tb_residuals(kept, net.log_z, log_r).pow(2).mean(), list(net.parameters()),
                             allow_unused=True)
    g2 = torch.autograd.grad(tb_residuals(again, net.log_z, log_r).pow(2).mean(), list(net.parameters()),
                             allow_unused=True)
    for a, b in zip(g1, g2):
        if a is None or b is None:
            assert a is None and b is None
        else:
            torch.testing.assert_close(a, b)

"""TB, DB and SubTB residuals on a 3-state DAG, against values computed by hand.

The DAG is the 1-D HyperGrid with H=3: s0 -> s1 -> s2, exit allowed everywhere. The trajectory
s0 -> s1 -> exit (actions: move, exit; n = 2) is scored with chosen numbers.
"""

import math

import torch
from intarsia_gfn.losses import (
    db_residuals,
    detailed_balance,
    subtb_residuals,
    subtrajectory_balance,
    tb_residuals,
    trajectory_balance,
)
from intarsia_gfn.trajectories import Scores

# log P_F(move|s0), log P_F(exit|s1); log P_B(s0|s1) = 0 (one parent); log F(s0), log F(s1)
PF0, PF1, PB0, F0, F1, LOGR, LOGZ = math.log(0.7), math.log(0.4), 0.0, 1.2, 0.3, math.log(0.6), 1.0


def scores():
    # padded to max_length 3 (two moves + exit)
    return Scores(log_pf=torch.tensor([[PF0, PF1, 0.0]]), log_pb=torch.tensor([[PB0, 0.0, 0.0]]),
                  log_f=torch.tensor([[F0, F1, 0.0]]), lengths=torch.tensor([2]))


def test_tb_residual():
    expected = LOGZ + PF0 + PF1 - LOGR - PB0
    got = tb_residuals(scores(), torch.tensor(LOGZ), torch.tensor([LOGR]))
    torch.testing.assert_close(got, torch.tensor([expected]))
    torch.testing.assert_close(trajectory_balance(scores(), torch.tensor(LOGZ), torch.tensor([LOGR]))["loss/tb"],
                               torch.tensor(expected ** 2))


def test_db_residuals_and_teleportation():
    move = F0 + PF0 - F1 - PB0
    exit_ = F1 + PF1 - LOGR
    got = db_residuals(scores(), torch.tensor([LOGR]))
    torch.testing.assert_close(got, torch.tensor([[move, exit_, 0.0]]))
    torch.testing.assert_close(detailed_balance(scores(), torch.tensor([LOGR]))["loss/db"],
                               torch.tensor((move ** 2 + exit_ ** 2) / 2))
    tele = db_residuals(scores(), torch.tensor([LOGR]), teleport=torch.tensor([LOGR]))
    torch.testing.assert_close(tele, torch.tensor([[move - LOGR, exit_, 0.0]]))


def test_subtb_residuals_cover_every_subtrajectory():
    # flows along the trajectory: F(s0), F(s1), then R(x) after the exit
    g = [F0, F1, LOGR]
    step = [PF0 - PB0, PF1]
    delta, pairs = subtb_residuals(scores(), torch.tensor([LOGR]))
    expected = {(0, 1): g[0] + step[0] - g[1], (1, 2): g[1] + step[1] - g[2], (0, 2): g[0] + sum(step) - g[2]}
    assert int(pairs.sum()) == 3
    for (i, j), value in expected.items():
        assert pairs[0, i, j]
        torch.testing.assert_close(delta[0, i, j], torch.tensor(value))
    lam = 0.5
    w = {(0, 1): lam, (1, 2): lam, (0, 2): lam ** 2}
    loss = sum(w[k] * expected[k] ** 2 for k in w) / sum(w.values())
    torch.testing.assert_close(subtrajectory_balance(scores(), torch.tensor([LOGR]), lam)["loss/subtb"],
                               torch.tensor(loss))


def test_subtb_with_lambda_to_infinity_is_tb_with_f_s0_as_log_z():
    delta, _ = subtb_residuals(scores(), torch.tensor([LOGR]))
    torch.testing.assert_close(delta[0, 0, 2], tb_residuals(scores(), torch.tensor(F0), torch.tensor([LOGR]))[0])

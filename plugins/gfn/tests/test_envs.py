import pytest
import torch
from intarsia.errors import ConfigError
from intarsia_gfn.config import EnvConfig
from intarsia_gfn.envs import make_env


def envs():
    return [make_env(EnvConfig(ndim=2, height=5)), make_env(EnvConfig(ndim=3, height=3, reward="random", modes=3)),
            make_env(EnvConfig(name="bitseq", length=6, word=2, modes=2))]


@pytest.mark.parametrize("env", envs(), ids=repr)
def test_all_states_are_topologically_ordered_and_indexed(env):
    states = env.all_states()
    assert torch.equal(env.index(states), torch.arange(len(states)))
    mask = env.forward_mask(states)
    for a in range(env.n_actions - 1):
        ok = mask[:, a]
        children = env.step(states[ok], torch.full((int(ok.sum()),), a))
        assert (env.index(children) > torch.nonzero(ok).squeeze(1)).all(), "a child comes before its parent"


@pytest.mark.parametrize("env", envs(), ids=repr)
def test_backward_step_undoes_step_and_masks_agree(env):
    states = env.all_states()
    mask = env.forward_mask(states)
    for a in range(env.n_actions - 1):
        ok = mask[:, a]
        act = torch.full((int(ok.sum()),), a)
        children = env.step(states[ok], act)
        assert env.backward_mask(children)[torch.arange(len(act)), act].all()
        assert torch.equal(env.backward_step(children, act), states[ok])
    assert not env.backward_mask(env.initial_states(1)).any()
    assert mask.any(1).all(), "every state needs an allowed action"


def test_hypergrid_standard_reward_matches_the_original_definition():
    env = make_env(EnvConfig(ndim=2, height=8))
    r = env.reward(torch.tensor([[0, 0], [1, 1], [1, 6], [3, 3], [0, 3], [6, 6]]))
    # corners: R0 + R1; (1,1), (1,6), (6,6): R0 + R1 + R2 (band); centre: R0; edge-centre: R0
    torch.testing.assert_close(r, torch.tensor([0.6, 2.6, 2.6, 0.1, 0.1, 2.6]))
    states = env.all_states()
    assert int(env.is_mode(states).sum()) == 4


def test_bitseq_reward_and_terminals():
    env = make_env(EnvConfig(name="bitseq", length=4, word=2, modes=1, beta=2.0))
    states = env.all_states()
    assert len(states) == 5 ** 2
    terminal = states[env.can_exit(states)]
    assert len(terminal) == 16
    logr = env.log_reward(terminal)
    assert torch.isclose(logr.max(), torch.tensor(0.0)) and int(env.is_mode(terminal).sum()) == 1
    assert torch.isclose(logr.min(), torch.tensor(-2.0))  # the complement of the mode: 4 of 4 bits differ


def test_bad_env_config_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown DAG environment 'grid'"):
        make_env(EnvConfig(name="grid"))
    with pytest.raises(ConfigError, match="multiple of word"):
        make_env(EnvConfig(name="bitseq", length=5, word=2))


def test_a_user_dag_missing_a_method_fails_when_built_naming_it():
    import pytest
    from intarsia_gfn.dag import DAGEnv

    class Incomplete(DAGEnv):
        n_actions, max_length, state_shape, feature_dim = 2, 2, (1,), 1

    with pytest.raises(TypeError, match="backward_mask"):
        Incomplete()


def _line_dag():
    """A user's DAG with only the required methods: walk right along 0..4, exit anywhere, R(x) = x + 1."""
    from intarsia_gfn.dag import DAGEnv

    class Line(DAGEnv):
        n_actions, max_length, state_shape, feature_dim = 2, 5, (1,), 5

        def initial_states(self, n):
            return torch.zeros(n, 1, dtype=torch.long)

        def is_initial(self, states):
            return states[:, 0] == 0

        def forward_mask(self, states):
            return torch.stack([states[:, 0] < 4, torch.ones(len(states), dtype=torch.bool)], 1)

        def backward_mask(self, states):
            return (states[:, 0] > 0)[:, None]

        def step(self, states, actions):
            return states + (actions == 0).long()[:, None]

        def backward_step(self, states, actions):
            return states - 1

        def features(self, states):
            return torch.nn.functional.one_hot(states[:, 0], 5).float()

        def log_reward(self, terminals):
            return (terminals[:, 0].float() + 1).log()

        def is_mode(self, terminals):
            return terminals[:, 0] == 4

        def __repr__(self):
            return "Line()"

    return Line()


def test_a_user_dag_without_the_optional_capabilities_trains_and_says_what_it_lacks(cpu_fabric):
    from intarsia_gfn.config import GFlowNetConfig, NetworkConfig
    from intarsia_gfn.dag import all_states, require_outcome_tokens
    from intarsia_gfn.gflownet import GFlowNet

    env = _line_dag()
    gfn = GFlowNet(GFlowNetConfig(batch_size=8, network=NetworkConfig(hidden=16, layers=1)), fabric=cpu_fabric, env=env)
    for step in range(5):
        gfn.update(step)
    result = gfn.evaluate()  # sampled, not exact: the DAG is not Enumerable
    assert "mean_log_reward" in result and "l1_sum" not in result
    with pytest.raises(ConfigError, match=r"Line\(\) does not implement Enumerable"):
        all_states(env)
    with pytest.raises(ConfigError, match=r"ocgfn-finetune draws outcomes token by token, and Line\(\)"):
        require_outcome_tokens(env, "ocgfn-finetune")
    with pytest.raises(ConfigError, match="too large to enumerate"):
        all_states(make_env(EnvConfig(name="bitseq", length=40, word=4)))

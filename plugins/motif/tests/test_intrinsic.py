import numpy as np
import pytest
from helpers_motif import make_model_file
from intarsia.interfaces import EnvSpec, Transitions
from intarsia_motif.config import MotifRewardConfig
from intarsia_motif.intrinsic import MotifReward, motif_transform
from intarsia_motif.reward_model import CaptionRewardModel

RAW = {"": 0.0, "You pick up the key.": 3.0, "You open the door.": 5.0, "You bump into the wall.": -2.0}
MEAN, STD = 1.0, 2.0  # r_norm = (raw - 1) / 2: "" -> -0.5, key -> 1.0, door -> 2.0, wall -> -1.5


def batch(captions, terminated=None):
    n = len(captions)
    z = np.zeros(n)
    term = np.zeros(n, dtype=bool) if terminated is None else np.asarray(terminated)
    return Transitions(obs=z, action=z.astype(int), next_obs=z, env_reward=z, terminated=term,
                       truncated=np.zeros(n, dtype=bool), captions=list(captions), infos=[{}] * n)


def test_transform_matches_hand_computation():
    r = np.array([2.0, 2.0, 0.1, -1.0, 0.5])
    n = np.array([1, 2, 1, 1, 3])
    eps = 0.2
    expected = [2.0 / 1 ** 3, 2.0 / 2 ** 3, 0.0, 0.0, 0.5 / 3 ** 3]
    assert motif_transform(r, n, eps, 3.0) == pytest.approx(expected)
    assert motif_transform(r, n, -np.inf, 0.0) == pytest.approx(r)


def test_motif_reward_counts_per_env_and_resets_at_episode_end(tmp_path):
    eps = make_model_file(tmp_path / "rm.pt")
    assert eps == pytest.approx(-1.0 + 9 * 2.5 / 18)
    reward = MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt"), beta=3.0, threshold_quantile=0.5,
                                           scored_caption="next"),
                         env_spec=EnvSpec(None, None, num_envs=2))
    reward.model._cache.update(RAW)  # pin the raw rewards so the test is a hand computation
    key, door, wall = "You pick up the key.", "You open the door.", "You bump into the wall."
    assert reward.requires == frozenset({"captions"})
    # step 1: env0 key (n=1) -> 1.0; env1 door (n=1) -> 2.0
    assert reward(batch([key, door])) == pytest.approx([1.0, 2.0])
    # step 2: env0 key again (n=2) -> 1/8; env1 wall (below eps) -> 0
    assert reward(batch([key, wall])) == pytest.approx([1.0 / 8, 0.0])
    # step 3: env0 key (n=3) and its episode ends; env1 door (n=2) -> 2/8
    out = reward(batch([key, door], terminated=[True, False]))
    assert out == pytest.approx([1.0 / 27, 2.0 / 8]) and out.dtype == np.float32
    # step 4: env0 starts a new episode: key counts from 1 again; env1 door n=3
    assert reward(batch([key, door])) == pytest.approx([1.0, 2.0 / 27])
    # empty caption: r_norm -0.5 < eps -> 0
    assert reward(batch(["", ""])) == pytest.approx([0.0, 0.0])
    # state survives a resume
    state = reward.state_dict()
    other = MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt"), scored_caption="next"),
                        env_spec=EnvSpec(None, None, 2))
    other.model._cache.update(RAW)
    other.load_state_dict(state)
    assert other(batch([key, door])) == pytest.approx([1.0 / 8, 2.0 / 64])
    reward.reset()
    assert reward(batch([key, door])) == pytest.approx([1.0, 2.0])


def test_default_scores_the_caption_of_the_observation_acted_from(tmp_path):
    """The official learner scores mb.obs: a caption pays on the step after it appears, with its count."""
    make_model_file(tmp_path / "rm.pt")
    reward = MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt")), env_spec=EnvSpec(None, None, 2))
    reward.model._cache.update(RAW)
    key, door = "You pick up the key.", "You open the door."
    # first step of both episodes: the reset observations' captions are "" (r_norm -0.5 < eps)
    assert reward(batch([key, door])) == pytest.approx([0.0, 0.0])
    # now the obs acted from shows key / door (n=1); env1's episode ends with a door caption
    assert reward(batch([key, door], terminated=[False, True])) == pytest.approx([1.0, 2.0])
    # env0: key again (n=2); env1: new episode, reset caption "" -- the final door caption is never scored
    assert reward(batch([door, key])) == pytest.approx([1.0 / 8, 0.0])
    # a resumed run keeps the pending captions and counts
    other = MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt")), env_spec=EnvSpec(None, None, 2))
    other.model._cache.update(RAW)
    other.load_state_dict(reward.state_dict())
    assert other(batch(["", ""])) == pytest.approx([2.0, 1.0])
    assert reward(batch(["", ""])) == pytest.approx([2.0, 1.0])


def test_message_key_decodes_the_caption_from_the_observation(tmp_path):
    make_model_file(tmp_path / "rm.pt")
    reward = MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt"), message_key="message"),
                         env_spec=EnvSpec(None, None, 2))
    reward.model._cache.update(RAW)
    assert reward.requires == frozenset({"obs"})
    msgs = np.zeros((2, 256), dtype=np.uint8)
    for i, text in enumerate(["You open the door.", "You pick up the key."]):
        msgs[i, : len(text)] = np.frombuffer(text.encode(), dtype=np.uint8)
    b = batch(["", ""])
    b.obs = {"message": msgs}
    assert reward(b) == pytest.approx([2.0, 1.0])
    assert reward(b) == pytest.approx([2.0 / 8, 1.0 / 8])
    with pytest.raises(ValueError, match="scored_caption"):
        MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt"), scored_caption="after"))


def test_no_threshold_and_beta_zero(tmp_path):
    make_model_file(tmp_path / "rm.pt")
    reward = MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt"), beta=0.0, threshold_quantile=0.0,
                                           scored_caption="next"),
                         env_spec=EnvSpec(None, None, 1))
    reward.model._cache.update(RAW)
    assert reward(batch(["You bump into the wall."])) == pytest.approx([-1.5])
    assert reward(batch(["You bump into the wall."])) == pytest.approx([-1.5])
    with pytest.raises(ValueError):
        MotifReward(MotifRewardConfig(reward_model=str(tmp_path / "rm.pt"), threshold_quantile=0.33))
    with pytest.raises(ValueError):
        MotifReward(MotifRewardConfig(reward_model=""))


def test_batched_inference_scores_each_new_caption_once(tmp_path):
    make_model_file(tmp_path / "rm.pt")
    model = CaptionRewardModel.load(tmp_path / "rm.pt")
    calls = []
    forward = model.net.forward
    model.net.forward = lambda ids: (calls.append(len(ids)), forward(ids))[1]
    a = model.raw(["x", "y", "x", "z"])
    b = model.raw(["y", "x"])
    assert calls == [3] and a[1] == b[0]

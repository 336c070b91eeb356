import numpy as np
from intarsia_motif.config import CollectConfig
from intarsia_motif.dataset import collect_captions, describe, load_dataset, save_dataset, step_captions


def test_step_captions_reads_final_info_for_ended_envs():
    infos = {"caption": np.array(["", "b"], dtype=object), "_caption": np.array([True, True]),
             "final_info": {"caption": np.array(["You reach the goal.", ""], dtype=object),
                            "_caption": np.array([True, False])}}
    assert step_captions(infos, np.array([True, False])) == ["You reach the goal.", "b"]
    assert step_captions({}, np.array([False])) == [""]


def test_collect_with_a_registered_policy_and_save(tmp_path, cpu_fabric):
    ds = collect_captions(CollectConfig(env={"name": "CaptionedGrid-v0", "size": 5, "max_steps": 30},
                                        policy={"name": "random"}, steps=600, num_envs=3, seed=0), fabric=cpu_fabric)
    assert len(ds) == 600 and set(ds.column_names) == {"caption", "env_index", "episode", "t", "reward"}
    info = describe(ds)
    assert info["distinct_captions"] >= 3  # empty, wall bumps, the torch distractor at least
    # episodes of 30 steps: ids change at the boundaries, t restarts at 0
    eps = np.array(ds["episode"])
    assert len(set(eps.tolist())) >= 600 // 30
    assert max(ds["t"]) == 29
    save_dataset(ds, tmp_path / "captions")
    assert load_dataset(tmp_path / "captions")["caption"] == ds["caption"]
    # a goal reached shows up as its caption with the reward on the same row
    for c, r in zip(ds["caption"], ds["reward"]):
        if r > 0:
            assert c == "You reach the goal."

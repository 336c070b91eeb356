"""The generators are deterministic and their labels correct."""

import numpy as np
import pytest
from intarsia_capprobe.config import TaskConfig
from intarsia_capprobe.tasks import SPLITS, TaskPair


def _strings(tp, rows):
    v = tp.vocab
    letters = {v.letter(i): i for i in range(tp.config.letters)}
    out = []
    for ids, pos in zip(rows["input_ids"], rows["answer_pos"]):
        assert ids[pos] == v.id("=")
        out.append([letters[t] for t in ids[tp.prefix:pos]])
    return out


@pytest.mark.parametrize("kind", ["counter", "pcfg"])
@pytest.mark.parametrize("split", SPLITS)
def test_same_seed_same_rows_other_seed_other_rows(kind, split):
    tp = TaskPair(TaskConfig(kind=kind))
    a = tp.rows(split, 64, seed=3, correlation=0.5)
    b = tp.rows(split, 64, seed=3, correlation=0.5)
    c = tp.rows(split, 64, seed=4, correlation=0.5)
    assert a == b
    assert a["input_ids"] != c["input_ids"]


def test_counter_labels_count_a_or_b():
    tp = TaskPair(TaskConfig(kind="counter"))
    v = tp.vocab
    for split in SPLITS:
        rows = tp.rows(split, 300, seed=0, correlation=0.5)
        for s, label, orig, new in zip(_strings(tp, rows), rows["label"], rows["original"], rows["new"]):
            assert len(s) == tp.config.seq_len
            assert orig == s.count(0) and new == s.count(1)
            expected = new if split in ("finetune", "correlated", "uncorrelated") else orig
            assert label == v.number(expected)


def test_counter_correlation_splits_and_share():
    tp = TaskPair(TaskConfig(kind="counter", relation="successor"))
    corr = tp.rows("correlated", 300, seed=1)
    assert all(n == o + 1 for o, n in zip(corr["original"], corr["new"]))
    unc = tp.rows("uncorrelated", 300, seed=1)
    assert not any(n == o + 1 for o, n in zip(unc["original"], unc["new"]))
    for share in (0.0, 0.5, 0.8, 1.0):
        ft = tp.rows("finetune", 2000, seed=2, correlation=share)
        assert abs(np.mean(ft["correlated"]) - share) < 0.05 + (0.0 if share in (0.0, 1.0) else 0.03)


def test_counter_prior_sets_how_often_b_appears_in_pretraining():
    low = TaskPair(TaskConfig(kind="counter", prior="low")).rows("pretrain", 2000, seed=0)
    high = TaskPair(TaskConfig(kind="counter", prior="high")).rows("pretrain", 2000, seed=0)
    assert np.mean(np.array(low["new"]) > 0) < 0.05 < 0.7 < np.mean(np.array(high["new"]) > 0)


def test_pcfg_labels_count_and_index_of_the_operand():
    tp = TaskPair(TaskConfig(kind="pcfg", seq_len=14))
    v = tp.vocab
    rows = tp.rows("pretrain", 500, seed=0)
    tasks = set()
    for ids, pos, label, s in zip(rows["input_ids"], rows["answer_pos"], rows["label"], _strings(tp, rows)):
        task = v.tokens[ids[1]]
        operand = ids[2] - v.letter(0)
        tasks.add(task)
        expected = s.count(operand) if task == "<count>" else (s.index(operand) if operand in s else len(s))
        assert label == v.number(expected)
        assert tp.config.min_len <= len(s) <= tp.config.seq_len
        assert all(t == 0 for t in ids[pos + 1:])  # right padding only
    assert tasks == {"<count>", "<index>"}
    ft = tp.rows("correlated", 100, seed=0)
    assert all(n == o + 1 for o, n in zip(ft["original"], ft["new"]))
    assert {ids[2] for ids in ft["input_ids"]} == {v.letter(1)}


def test_pcfg_operand_prior():
    def share_b(prior):
        tp = TaskPair(TaskConfig(kind="pcfg", prior=prior))
        rows = tp.rows("pretrain", 1000, seed=0)
        return np.mean([ids[2] == tp.vocab.letter(1) for ids in rows["input_ids"]])

    assert share_b("low") < 0.06 < share_b("medium") < 0.4 < share_b("high")


def test_datasets_are_hf_datasets():
    ds = TaskPair(TaskConfig()).dataset("original", 10, seed=0)
    assert type(ds).__name__ == "Dataset" and len(ds) == 10
    assert set(ds.column_names) >= {"input_ids", "answer_pos", "label", "original", "new", "correlated"}


@pytest.mark.parametrize("bad, message", [
    ({"kind": "tracr"}, "task.kind"), ({"relation": "square"}, "task.relation"), ({"prior": "huge"}, "task.prior"),
    ({"max_count": 9, "seq_len": 12}, "max_count"),
])
def test_bad_task_config_names_the_field(bad, message):
    with pytest.raises(ValueError, match=message):
        TaskPair(TaskConfig(**bad))

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


@pytest.mark.parametrize("kind", ["counter", "pcfg", "maxid"])
@pytest.mark.parametrize("split", SPLITS)
def test_same_seed_same_rows_other_seed_other_rows(kind, split):
    tp = TaskPair(TaskConfig(kind=kind, relation="mirror" if kind == "maxid" else "successor"))
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


PCFG = {"kind": "pcfg", "seq_len": 250, "count_window": 40, "letters": 10}


def test_pcfg_labels_windowed_count_and_sixth_occurrence_index():
    tp = TaskPair(TaskConfig(**PCFG, prior="high"))
    v = tp.vocab
    rows = tp.rows("pretrain", 300, seed=0)
    tasks = set()
    for ids, label, s in zip(rows["input_ids"], rows["label"], _strings(tp, rows)):
        task = v.tokens[ids[1]]
        operand = ids[2] - v.letter(0)
        tasks.add(task)
        assert len(s) == 250 and operand in (0, 1, 2)
        if task == "<count>":
            expected = s[-40:].count(operand)  # the last 40 positions only
        else:
            where = [i for i, t in enumerate(s) if t == operand]
            expected = where[5] if len(where) >= 6 else len(s)  # the 6th occurrence
        assert label == v.number(expected)
    assert tasks == {"<count>", "<index>"}
    # the windowed count differs from the whole-string count: the window matters
    assert any(s[-40:].count(0) != s.count(0) for s in _strings(tp, rows))
    ft = tp.rows("correlated", 100, seed=0)
    assert all(n == o + 1 for o, n in zip(ft["original"], ft["new"]))
    assert {ids[2] for ids in ft["input_ids"]} == {v.letter(1)}


@pytest.mark.parametrize("prior, shares", [("low", (0.999, 0.001, 0.0)), ("medium", (0.9, 0.1, 0.0)),
                                           ("high", (0.5, 0.3, 0.2))])
def test_pcfg_operand_shares_are_the_papers_priors(prior, shares):
    tp = TaskPair(TaskConfig(**PCFG, prior=prior))
    rows = tp.rows("pretrain", 4000, seed=0)
    ops = np.array([ids[2] - tp.vocab.letter(0) for ids in rows["input_ids"]])
    got = np.bincount(ops, minlength=tp.config.letters) / len(ops)
    assert np.all(got[3:] == 0)  # operands are a, b, c only
    assert np.allclose(got[:3], shares, atol=0.02), got[:3]
    assert (got[:3] > 0).tolist() == [s > 0 for s in shares]


def test_pcfg_next_token_rows_carry_the_string_start():
    tp = TaskPair(TaskConfig(**PCFG, next_token=True))
    assert set(tp.rows("pretrain", 4, seed=0)["lm_start"]) == {3}
    assert "lm_start" not in tp.rows("finetune", 4, seed=0)


def test_windowed_counter_counts_the_last_letters_only():
    tp = TaskPair(TaskConfig(kind="counter", seq_len=40, count_window=10, max_count=3))
    rows = tp.rows("original", 400, seed=0)
    strings = _strings(tp, rows)
    assert all(o == s[-10:].count(0) and c == s[-10:].count(2)
               for s, o, c in zip(strings, rows["original"], rows["control"]))
    assert np.mean([s.count(0) != s[-10:].count(0) for s in strings]) > 0.5


def test_maxid_labels_max_and_min_with_the_mirror_relation():
    tp = TaskPair(TaskConfig(kind="maxid", seq_len=12, count_window=8, letters=8, relation="mirror"))
    v = tp.vocab
    for split in SPLITS:
        rows = tp.rows(split, 200, seed=0, correlation=0.5)
        for s, label, hi, lo in zip(_strings(tp, rows), rows["label"], rows["original"], rows["new"]):
            assert hi == max(s[-8:]) and lo == min(s[-8:])
            assert label == v.number(lo if split in ("finetune", "correlated", "uncorrelated") else hi)
    assert all(lo == 7 - hi for hi, lo in zip(*(tp.rows("correlated", 100, 1)[k] for k in ("original", "new"))))
    assert not any(lo == 7 - hi for hi, lo in zip(*(tp.rows("uncorrelated", 100, 1)[k] for k in ("original", "new"))))


def test_datasets_are_hf_datasets():
    ds = TaskPair(TaskConfig()).dataset("original", 10, seed=0)
    assert type(ds).__name__ == "Dataset" and len(ds) == 10
    assert set(ds.column_names) >= {"input_ids", "answer_pos", "label", "original", "new", "correlated"}


@pytest.mark.parametrize("bad, message", [
    ({"kind": "tracr"}, "task.kind"), ({"relation": "square"}, "task.relation"), ({"prior": "huge"}, "task.prior"),
    ({"max_count": 9, "seq_len": 12}, "max_count"), ({"count_window": 13, "seq_len": 12}, "count_window"),
    ({"kind": "maxid", "relation": "successor"}, "task.relation"),
])
def test_bad_task_config_names_the_field(bad, message):
    with pytest.raises(ValueError, match=message):
        TaskPair(TaskConfig(**bad))

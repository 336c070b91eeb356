import pytest
from intarsia.errors import ConfigError
from intarsia.schedule import TrainSchedule


def test_rounds_start_at_learning_starts_and_catch_up():
    s = TrainSchedule(learning_starts=10, every=4, per_round=3)
    assert [s.due(step) for step in (4, 8)] == [0, 0]
    assert s.due(12) == 3 and s.first_step == 12  # the round at 10
    assert s.due(14) == 3  # the round at 14
    assert s.due(30) == 4 * 3  # rounds at 18, 22, 26, 30: caught up in one call
    assert s.due(30) == 0


def test_ratio_above_one_gives_several_updates_per_env_step():
    s = TrainSchedule.from_ratio(0, 2.0)
    assert s.due(0) == 1 and s.due(1) == 2 and s.due(5) == 8


def test_state_round_trips_and_restart_waits():
    s = TrainSchedule.from_ratio(5, 0.25)
    s.due(20)
    t = TrainSchedule.from_ratio(5, 0.25)
    t.load_state_dict(s.state_dict())
    assert t.due(24) == s.due(24) == 1
    t.restart(24, 8)
    assert t.due(31) == 0 and t.due(32) == 1


def test_bad_schedule_is_a_config_error():
    with pytest.raises(ConfigError):
        TrainSchedule.from_ratio(0, 0.0)
    with pytest.raises(ConfigError):
        TrainSchedule(0, every=0)

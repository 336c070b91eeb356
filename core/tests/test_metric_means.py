import pytest
import torch
from intarsia.metric_means import MetricMeans


def test_means_over_the_updates_that_reported_each_metric():
    means = MetricMeans(every=3)
    means.add({"loss": torch.tensor(1.0), "rare": torch.tensor(10.0)})
    means.add({"loss": torch.tensor(2.0), "count": 4})
    assert not means.due()
    means.add({"loss": torch.tensor(6.0, requires_grad=True) * 1})
    assert means.due()
    out = means.pop()
    assert out == pytest.approx({"loss": 3.0, "rare": 10.0, "count": 4.0})
    assert all(isinstance(v, float) for v in out.values())
    assert not means.due() and means.pop() == {}


def test_every_must_be_positive():
    with pytest.raises(ValueError, match="every"):
        MetricMeans(every=0)

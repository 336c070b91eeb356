import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The networks here are tiny: intra-op threads only add contention on a small shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

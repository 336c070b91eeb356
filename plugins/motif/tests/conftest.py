import sys
from pathlib import Path

import torch

torch.set_num_threads(1)

# the repository runs pytest with --import-mode=importlib: make the shared helpers module importable
sys.path.insert(0, str(Path(__file__).parent))

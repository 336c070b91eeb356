import torch

torch.set_num_threads(1)

# progress values of a small synthetic caption world: enough distinct captions that held-out pairs test
# generalisation of the Bradley-Terry scores (transitivity), not memorisation
NOUNS = {"goal": 3.0, "door": 2.0, "key": 1.0, "gold": 1.5, "torch": 0.0, "wall": -1.0, "trap": -2.0}
VERBS = ["You reach the", "You see the", "You touch the"]


def synthetic_scores():
    return {f"{v} {n}.": s for n, s in NOUNS.items() for v in VERBS}

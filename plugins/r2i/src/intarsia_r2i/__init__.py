"""intarsia-r2i: Recall to Imagine (Samsami et al., ICLR 2024) — S5 world models for memory tasks."""

__version__ = "0.1.0"

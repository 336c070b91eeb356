"""HyperCombinator: interpretable piecewise-linear policies (Wabartha & Pineau, ICLR 2024) for intarsia."""

"""Environments of the paper: N-chain, Deep Sea (bsuite semantics) and Atari (ale-py, optional)."""

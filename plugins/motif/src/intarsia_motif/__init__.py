"""intarsia-motif: Motif (Klissarov, D'Oro et al., ICLR 2024) -- intrinsic rewards from LLM preferences over
captions. Importing this package is cheap; the heavy modules load when a component is built."""

__version__ = "0.1.0"

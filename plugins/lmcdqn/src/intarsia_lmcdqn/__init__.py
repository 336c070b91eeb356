"""intarsia-lmcdqn: Adam LMCDQN (Ishfaq et al., ICLR 2024) and its DQN baseline, N-chain, Deep Sea, Atari.

Importing the package is cheap; the agent, optimiser and envs live in their own modules.
"""

__version__ = "0.1.0"

"""Environments registered by the R2I plugin (BSuite memory tasks, POPGym, pixel tasks)."""

"""The run machinery: resolve a config, make a run directory, execute a job, write its report.

Importing this package is cheap; the Lightning Fabric loop lives in :mod:`intarsia.runner.train`.
"""

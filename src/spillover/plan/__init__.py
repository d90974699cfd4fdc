"""Planning before work: what an experiment will do, what it costs, and what would stop it.

:mod:`.checks` finds every problem the stages would hit (names, files, extras, CUDA, keys, servers);
:mod:`.estimate` counts the planned units per stage, what a run directory already holds, and the
tokens, dollars, GPU memory and hours they imply, from the rates kept as data in ``spillover/rates.yaml``
(:mod:`spillover.rates`). Importing this package imports nothing heavy.
"""

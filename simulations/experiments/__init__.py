"""Experiment modules, one per claim or figure, discovered by :mod:`simulations.registry`.

Every public module here (name not starting with ``_``) that defines ``NAME`` is an
experiment and must follow the contract of :mod:`simulations.experiments.contract`:
``NAME``, ``PAPER_REF``, ``TITLE``, ``TOPIC``, a frozen dataclass ``Config`` with
``quick()``/``full()`` classmethods, ``tasks(config)``, ``run_task(config, task, *, rng)``,
``claims(config, records)`` and ``plot(config, records, out_dir)``.
"""

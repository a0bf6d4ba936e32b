"""The engine: send each probe once, judge every selected check on what came back.

Owns the ``Runner`` (``_engine``), what it hands on: a check's ``CheckResult``, the run's
``Usage`` and the ``Observer`` (``_result``), the spending ceilings of a run (``_budget``) and
what the network did to an exchange, with the one rule of what is inconclusive (``_faults``).

May import: the base modules (``_errors``, ``_model``, ``_version``), ``wire``, ``contract`` and
``checks``. No pytest, no HTML, no click.
"""

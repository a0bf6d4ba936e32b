"""One run, end to end: settings, the session, results.json, the CI gate, scores.

Owns where the endpoint, key and model come from (``_settings``), the session that starts the
embedded server when needed and runs the engine and exploration (``_session``), the first
request's verdict on the endpoint (``_preflight``), the outcome as data and exit codes
(``_results``, built in one place), reading results back (``_load``), the gate (``_baseline``),
per-area scores (``_scores``), and the matrix of endpoints (``_matrix_file``, ``_matrix``: one
``conformance run`` child per pair).

May import: the base modules, ``wire``, ``contract``, ``checks``, ``server``, ``engine`` and
``explore``. No pytest, no HTML, no click: the plugin and the CLI sit above it.
"""

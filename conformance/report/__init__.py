"""Reporting on a run: terminal and JUnit text, the HTML report, the comparison, the catalogue.

Renders results data and decides nothing: ``_text`` (terminal and JUnit lines), ``_html`` and
``_html_card`` and ``_html_evidence`` (the static report), ``_report`` (pytest-html hooks and
extras), ``_compare``, ``_compare_render`` and ``_compare_latency`` (several results.json side by
side), ``_history`` and ``_history_render`` (one endpoint over time), ``_catalogue_doc``
(docs/checks.md) and ``_progress`` (the live progress line).

May import everything below it (base modules, ``wire``, ``contract``, ``checks``, ``engine``,
``explore``, ``run``); never the plugin, the suite or the CLI.
"""

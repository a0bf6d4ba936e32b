"""Under GitHub Actions (``GITHUB_ACTIONS=true``): the run's summary appended to the job
summary (``$GITHUB_STEP_SUMMARY``) and its ``::error``/``::warning`` annotations printed,
rendered by ``report/_ci`` from results.json data (``conformance summary`` renders the same
for other CI systems)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click

from conformance.report._ci import run_markdown, workflow_annotations


def publish(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
    """Write the job summary and print the annotations when run by GitHub Actions."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") != "true":
        return
    for line in workflow_annotations(data):
        click.echo(line)
    summary = env.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    try:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(run_markdown(data))
    except OSError as exc:  # the results are written already: say so, do not fail for it
        click.echo(
            f"conformance: GITHUB_STEP_SUMMARY {summary!r} cannot be written: "
            f"{exc.strerror or exc}; the job summary is left out.",
            err=True,
        )

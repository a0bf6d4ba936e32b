"""The listings: ``conformance checks``, ``defects`` and ``faults``."""

from __future__ import annotations

import click


@click.command()
def defects() -> None:
    """List the reference server's deliberate defects."""
    from conformance.server import DEFECTS

    for name, description in sorted(DEFECTS.items()):
        click.echo(f"{name:28} {description}")


@click.command()
def faults() -> None:
    """List the reference server's network faults (`--fault NAME`)."""
    from conformance.server import FAULTS

    for name, description in sorted(FAULTS.items()):
        click.echo(f"{name:20} {description}")


@click.command("checks")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="text: one line per check; markdown: the full catalogue (docs/checks.md).",
)
def list_checks(fmt: str) -> None:
    """List the registered checks: id, area, severity and title (then the exploration
    properties, judged with --phase explore or all)."""
    from conformance.checks import registered_checks
    from conformance.explore import PROPERTIES

    if fmt == "markdown":
        from conformance.report._catalogue_doc import catalogue_markdown

        click.echo(catalogue_markdown(registered_checks(), PROPERTIES), nl=False)
        return
    for check in [*registered_checks(), *PROPERTIES]:
        click.echo(f"{check.id:32} {check.area:10} {check.severity.value:6} {check.title}")

"""The ``geomm`` command tree: root options, and which function runs each command.

Registering a command imports only its module of argument declarations
(typer and rich): the library layers, and torch for ``geomm cleanclip``, are
imported inside the command when it runs, so ``geomm --help`` and a mistyped
option cost no scientific stack.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from geomm._redact import install_log_redaction
from geomm._version import __version__
from geomm.cli import _cleanclip
from geomm.cli._console import State, out
from geomm.cli._cube import cube_command, quicklook_command, verify_command
from geomm.cli._embed import embed_command, models_command
from geomm.cli._search import search_command

__all__ = ["app"]

app = typer.Typer(
    name="geomm",
    help="Multimodal Earth observation: STAC search, Sentinel-1/2 cubes, embeddings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"geomm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    verbose = State.verbose = verbose or State.verbose  # main() takes -v from anywhere
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    install_log_redaction()  # no SAS token, signature or password in any log line
    if not verbose:  # connection retries are reported once, as a geomm error
        logging.getLogger("urllib3").setLevel(logging.ERROR)


app.command("search")(search_command)
app.command("cube")(cube_command)
app.command("embed")(embed_command)
app.command("models")(models_command)
app.command("verify")(verify_command)
app.command("quicklook")(quicklook_command)
app.add_typer(_cleanclip.app, name="cleanclip")

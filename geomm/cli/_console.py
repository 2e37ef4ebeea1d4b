"""Where the command line prints: results on stdout, progress and errors on stderr.

Pipes and logs get wide, unwrapped tables; terminals get their own width.
No markup or emoji codes: paths, item ids and messages are printed as they
are (a file named ``[red]x[/red].geojson`` stays that); styles come as
:class:`rich.text.Text` spans.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["EXIT_INTERNAL_ERROR", "EXIT_USER_ERROR", "StageBars", "State", "err", "out", "say"]

EXIT_USER_ERROR = 1
"""A fault of input, files, network, disk or environment: one ``error:`` line says the fix."""
EXIT_INTERNAL_ERROR = 70
"""geomm's own bug (EX_SOFTWARE): the line asks for ``--verbose`` and a report."""

out = Console(width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)
err = Console(stderr=True, markup=False, emoji=False, highlight=False)


class State:
    """What the root options set for the whole invocation."""

    verbose = False
    """``-v``/``--verbose`` was given (anywhere on the line): tracebacks and debug logs."""


def say(text: RenderableType) -> None:
    """Print one result line on stdout, unwrapped and unhighlighted (to copy a path)."""
    out.print(text, soft_wrap=True, highlight=False)


class StageBars:
    """Progress bars on stderr, one per stage, each appearing when its stage starts.

    Nothing is drawn before the first stage: an error in the planning prints
    one line only. Use as a context manager; the bars stop on the way out,
    error or not.
    """

    def __init__(self, labels: Mapping[str, str]) -> None:
        self._labels = dict(labels)
        self._bar = _progress()
        self._tasks: dict[str, TaskID] = {}

    def start(self, stage: str, todo: int, done: int) -> None:
        """Show the bar of ``stage``: ``todo`` units left of ``todo + done``."""
        self._bar.start()
        self._tasks[stage] = self._bar.add_task(
            self._labels.get(stage, stage), total=todo + done, completed=done
        )

    def advance(self, stage: str) -> None:
        """One unit of ``stage`` done."""
        self._bar.advance(self._tasks[stage])

    def __enter__(self) -> StageBars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()


def _progress() -> Progress:
    """The bar columns of long commands, drawn on stderr (stdout stays for results)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )

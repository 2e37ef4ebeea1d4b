"""The console script's boundary: every way a command can end, as an exit code and one line.

Errors a user can cause (:class:`geomm.errors.GeommError`, click's usage
errors, a missing optional dependency, an OSError on a path) print one
``error:`` line and exit 1; ``--verbose`` shows the traceback first. Anything
else is a bug: a short note asking for ``--verbose`` and exit 70. The line is
printed literally, on one line, with credentials redacted and the library's
argument names worded as flags (:mod:`geomm.cli._flags`).
"""

from __future__ import annotations

import re
import sys
import traceback
import warnings
from typing import TextIO

import typer
from rich.text import Text

from geomm._redact import redact_text
from geomm.cli._app import app
from geomm.cli._console import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, State, err
from geomm.cli._flags import as_flags
from geomm.errors import GeommError, GeommWarning

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geomm`` console script; returns the exit code.

    This boundary turns a malformed command line (an unknown option, a value
    click cannot parse), geomm's own errors, a missing optional dependency,
    and file system errors on a path (no such folder, not a folder, no
    permission, disk full) into one line (exit 1), and anything else into a
    bug report hint (exit 70). ``--verbose``/``-v`` may stand anywhere on the
    line; with it the error line comes after its traceback, once.
    """
    args, State.verbose = _take_verbose(sys.argv[1:] if argv is None else argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = app(args=args, prog_name="geomm", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except typer.Abort:  # Ctrl-C or end of input at a prompt
        err.print(Text.assemble(("aborted", "bold red")))
        return EXIT_USER_ERROR
    except typer.TyperException as e:  # click's usage errors: one line, not a box
        if line := _usage_line(e):
            _report(e, line)
        return EXIT_USER_ERROR  # (no line: no command given, and the help was shown)
    except GeommError as e:
        _report(e, str(e))
        return EXIT_USER_ERROR
    except Exception as e:
        if fault := _user_fault(e, args):
            _report(e, fault)
            return EXIT_USER_ERROR
        _report(
            e,
            f"{type(e).__name__}: {e} (rerun with --verbose for the traceback and report it)",
            prefix="internal error:",
        )
        return EXIT_INTERNAL_ERROR


def _usage_line(e: typer.TyperException) -> str:
    """Click's message for a malformed command line, and where the help is."""
    message = e.format_message() if hasattr(e, "format_message") else str(e)
    if not message.strip():
        return ""
    ctx = getattr(e, "ctx", None)
    where = f"{ctx.command_path} --help" if ctx is not None else "geomm --help"
    return f"{message} (see `{where}`)"


def _show_warning(  # the signature of warnings.showwarning
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print geomm's own warnings as one ``warning:`` line, others as Python does."""
    if issubclass(category, GeommWarning):
        err.print(Text.assemble(("warning:", "bold yellow"), " ", str(message)), soft_wrap=True)
        return
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


_VERBOSE_FLAGS = ("--verbose", "-v")


def _take_verbose(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--verbose``/``-v`` (before a ``--``), and whether one was there.

    Click only knows the root's options before the subcommand; taking them out
    here lets ``geomm cube ... -v`` work like ``geomm -v cube ...``.
    """
    args = list(argv)
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a not in _VERBOSE_FLAGS]
    return kept + args[end:], len(kept) < end


def _user_fault(e: Exception, args: list[str]) -> str | None:
    """The one-line message of an error that is not geomm's bug, or None (a bug).

    A missing optional dependency names its extra; an OSError on a path the
    user named (no such folder, not a folder, no permission, disk full) says
    which path.
    """
    if isinstance(e, ModuleNotFoundError):
        from geomm._extras import extra_for, missing_extra

        prefer = "contrastive" if "cleanclip" in args else "models"
        if extra := extra_for(e.name, prefer=prefer):
            return str(missing_extra(e.name or "", extra))
    if isinstance(e, OSError) and e.filename is not None and e.strerror is not None:
        return (
            f"{e.strerror}: {str(e.filename)!r}; check the path (its folder must exist and be "
            "writable) and the free space"
        )
    return None


def _report(e: BaseException, line: str, *, prefix: str = "error:") -> None:
    """Print ``line`` once on stderr, after the traceback under ``--verbose``.

    The text is printed literally (a path may hold ``[/`` or ``[red]``): only
    the prefix is styled, as a :class:`rich.text.Text` span, never as markup.
    Credentials in URLs are redacted from both (a chained cause may quote a
    signed URL), and the library's argument names become flags.
    """
    if State.verbose:
        trace = traceback.TracebackException.from_exception(e)
        lines = list(trace.format())
        last = len(list(trace.format_exception_only()))
        err.print(Text(redact_text("".join(lines[:-last]).rstrip("\n"))), soft_wrap=True)
    shown = _one_line(as_flags(redact_text(line)))
    err.print(Text.assemble((prefix, "bold red"), " ", shown), soft_wrap=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown as escapes.

    An error quotes what the user gave (a file name, an option's value), and
    that may hold a newline: the message stays one line, and says exactly what
    was given.
    """
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], text)

"""The ``geomm`` command line: parse, call a library function, print.

No business logic lives here: every command calls the same public function a
notebook would. Errors a user can cause (:class:`geomm.errors.GeommError`)
print one line and exit 1; ``--verbose`` shows the traceback. Anything else
is a bug: it prints a short note asking for ``--verbose`` and exits 70.

The modules: :mod:`._app` (the command tree and root options), :mod:`._main`
(the entry point and its error mapping), :mod:`._flags` (library arguments
worded as flags), :mod:`._console` (where output goes), :mod:`._options`
(options several commands share), and one module per command group:
:mod:`._search`, :mod:`._cube` (cube, verify, quicklook), :mod:`._embed`
(embed, models) and :mod:`._cleanclip` (``geomm cleanclip``).
"""

from geomm.cli._app import app
from geomm.cli._console import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR
from geomm.cli._main import main

__all__ = ["EXIT_INTERNAL_ERROR", "EXIT_USER_ERROR", "app", "main"]

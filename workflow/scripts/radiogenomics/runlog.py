"""Logging for rule scripts: everything goes to the rule's ``log:`` file.

``setup(log_path)`` sends the ``logging`` records and warnings to the log file and
to stderr, and installs an exception hook: a :class:`RadiogenomicsError` is printed
as its one-line message (it already names the file and what was expected), any
other exception with its traceback. Either way the log file holds the cause.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from .errors import RadiogenomicsError


def setup(log_path=None, name: str = "radiogenomics") -> logging.Logger:
    """Configure logging to ``log_path`` (and stderr) and return the package logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)

    def hook(exc_type, exc, tb):
        log = logging.getLogger(name)
        if isinstance(exc, RadiogenomicsError):
            log.error("%s", exc)
        else:
            log.error("".join(traceback.format_exception(exc_type, exc, tb)))
        sys.exit(1)

    sys.excepthook = hook
    return logging.getLogger(name)

"""Atomic file output and the workflow's table conventions.

Snakemake must never see a partial file as finished, so every writer here writes
to a temporary name in the destination directory and renames it into place
(``os.replace`` is atomic on POSIX within one file system).

Tables are tab-separated, with the row key (``patient``, ``gene``, ``feature`` ...)
as the first column.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from .errors import RadiogenomicsError


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    ``suffix`` keeps an extension that a writer needs to see (e.g. ``.keras``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    # mkstemp creates the file 0600; give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_tsv(frame: pd.DataFrame, path, index: bool = True, float_format: str | None = None) -> None:
    """Write ``frame`` as TSV atomically (index first unless ``index=False``)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index, float_format=float_format)


def write_text(text: str, path) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_json(obj, path) -> None:
    """Write ``obj`` as indented JSON atomically."""
    write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)


def read_json(path):
    """Read JSON, with an error naming the file when it is not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RadiogenomicsError(f"{path}: cannot read JSON ({exc})") from None


def read_tsv(path, index_col: int | None = 0, **kwargs) -> pd.DataFrame:
    """Read a TSV written by :func:`write_tsv`, naming the file on failure."""
    try:
        return pd.read_csv(path, sep="\t", index_col=index_col, **kwargs)
    except FileNotFoundError:
        raise RadiogenomicsError(f"{path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RadiogenomicsError(f"{path}: not a valid tab-separated table ({exc})") from None


def files_under(directory) -> list[Path]:
    """Every file under ``directory`` (recursively, sorted), hidden files and directories
    (``.name``) left out."""
    found = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in sorted(names) if not name.startswith("."))
    return found


def input_files(path, *extra) -> list[str]:
    """A rule's input files for a data path: the file itself, or every file under a
    directory (its own time stamp does not change when a file in it is edited), then
    ``extra`` files (e.g. a sample sheet; ``None`` left out). A path that does not exist is
    returned as is, so that Snakemake names it as a missing input."""
    path = Path(path)
    files = [str(f) for f in files_under(path)] if path.is_dir() else [str(path)]
    return files + [str(e) for e in extra if e]

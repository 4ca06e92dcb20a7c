"""The package's one exception type.

Every error caused by bad input or configuration is raised as
:class:`RadiogenomicsError` with a message that names the file (and line, or
config key) and says what was expected. Rule scripts print such messages without
a traceback (see :mod:`radiogenomics.runlog`).
"""


class RadiogenomicsError(Exception):
    """Bad input or configuration; the message says which file/key and why."""


def where(path, line=None) -> str:
    """Format a location for an error message: ``path`` or ``path:line``."""
    return f"{path}:{line}" if line is not None else str(path)

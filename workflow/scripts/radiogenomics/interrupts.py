"""Ctrl-C that always stops the run: defer a SIGINT that arrives inside a function that
would swallow it, and raise it as soon as that function returns.

Why: Snakemake 9's console log handler (``snakemake.logging.ColorizingTextHandler.emit``,
checked up to 9.27.1, the version this workflow pins) wraps its whole body in
``except (KeyboardInterrupt, SystemExit): pass``. Python raises ``KeyboardInterrupt`` in
the main thread at the next bytecode after SIGINT arrives, so a Ctrl-C that lands while the
scheduler prints a line (``Finished jobid …``, ``Execute 1 jobs...``) is dropped: Snakemake
never hears it, while the jobs in the terminal's process group die of the same SIGINT and
are reported as failed (or, with ``retries``, restarted), and the run can end with exit 0.

The guard, :func:`defer_sigint_during`, wraps such a method. While the *main* thread is
inside it, the SIGINT handler only records the interrupt; when the outermost call returns
(normally or not), the recorded interrupt is raised there as ``KeyboardInterrupt``, outside
the swallowing ``try``. The scheduler's own ``except KeyboardInterrupt`` then runs
("Terminating processes on user request") exactly as for a Ctrl-C that arrived anywhere
else. Outside the wrapped method the handler behaves like Python's default one. Other
threads (which never receive the ``KeyboardInterrupt``) call the wrapped method unchanged.

Installing is idempotent and changes nothing when the process's SIGINT handler is not
Python's default (e.g. ``SIG_IGN`` in a background job, or a handler someone else set).

A second way a Ctrl-C is lost is Python's own: when the main thread is running a weakref
callback, a ``__del__`` method or a garbage-collector callback as the SIGINT's handler runs
(Snakemake's scheduler drops job objects, and their ``WeakSet`` entries, all the time), the
``KeyboardInterrupt`` cannot propagate out of the callback. Python reports it as
"Exception ignored in ..." through :data:`sys.unraisablehook` and goes on. This was seen in
this project's resume test (one run in five): the jobs died of the SIGINT, Snakemake never
heard it and reported failed jobs instead of stopping. :func:`redeliver_unraisable_interrupts`
installs a hook that hands such an interrupt back to the main thread a moment later
(:func:`_thread.interrupt_main`, from a timer thread, so that the handler does not run
inside the hook itself, where the exception would be lost again): it then propagates from
wherever the main thread is, as if the Ctrl-C had arrived there.
"""

from __future__ import annotations

import _thread
import functools
import signal
import sys
import threading

#: Attribute set on a wrapped function, so that wrapping twice is a no-op.
_MARK = "_radiogenomics_defers_sigint"


class _Deferral:
    """Per-process state: how deep the main thread is in guarded calls, and whether a
    SIGINT arrived meanwhile."""

    def __init__(self):
        self.depth = 0
        self.pending = False

    def handler(self, signum, frame):
        if self.depth > 0:
            self.pending = True          # raised by the guarded call when it returns
            return
        signal.default_int_handler(signum, frame)

    def raise_pending(self):
        if self.pending and self.depth == 0:
            self.pending = False
            raise KeyboardInterrupt


_STATE = _Deferral()


def _is_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def defer_sigint_during(owner, name: str) -> bool:
    """Wrap ``owner.<name>`` (a method or function attribute) so that a SIGINT delivered
    while the main thread runs it is raised as ``KeyboardInterrupt`` after it returns.

    Installs the deferring SIGINT handler (only over Python's default handler). Returns
    ``True`` when the guard is active after the call, ``False`` when it was not installed
    (not called from the main thread, or SIGINT has a non-default handler).
    """
    if not _is_main_thread():
        return False                     # signal.signal works only in the main thread
    current = signal.getsignal(signal.SIGINT)
    if current != _STATE.handler:        # (bound methods compare equal, never identical)
        if current is not signal.default_int_handler:
            return False
        signal.signal(signal.SIGINT, _STATE.handler)
    original = getattr(owner, name)
    if getattr(original, _MARK, False):
        return True

    @functools.wraps(original)
    def guarded(*args, **kwargs):
        if not _is_main_thread():
            return original(*args, **kwargs)
        _STATE.depth += 1
        try:
            return original(*args, **kwargs)
        finally:
            _STATE.depth -= 1
            _STATE.raise_pending()

    setattr(guarded, _MARK, True)
    setattr(owner, name, guarded)
    return True


#: Seconds between an interrupt's loss inside a callback and its second delivery. The hook
#: must have returned by then (the handler would otherwise run inside the hook, where an
#: exception is lost again); that takes microseconds, and 50 ms is nothing to a person.
REDELIVERY_DELAY_S = 0.05


def _redeliver(args) -> None:
    """sys.unraisablehook: a KeyboardInterrupt that the main thread could not raise (it came
    inside a callback) is delivered again from a timer thread once this hook has returned;
    anything else goes to the previous hook."""
    if (args.exc_type is not None and issubclass(args.exc_type, KeyboardInterrupt)
            and _is_main_thread()):
        timer = threading.Timer(REDELIVERY_DELAY_S, _thread.interrupt_main, args=(signal.SIGINT,))
        timer.daemon = True
        timer.start()
        return
    _redeliver.previous(args)


_redeliver.previous = sys.unraisablehook


def redeliver_unraisable_interrupts() -> None:
    """Install :func:`_redeliver` as :data:`sys.unraisablehook`, keeping the current hook for
    every other unraisable exception (idempotent: installed twice, it never chains to itself)."""
    if sys.unraisablehook is not _redeliver:
        _redeliver.previous = sys.unraisablehook
        sys.unraisablehook = _redeliver

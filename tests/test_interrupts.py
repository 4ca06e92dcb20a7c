"""radiogenomics.interrupts: a SIGINT delivered inside a guarded call is raised after it,
and one that Python could not raise inside a callback is delivered again after it.

Unit level, in a subprocess of its own (the guard replaces the process's SIGINT handler).
The end-to-end check, with Snakemake's real console handler, is tests/test_resume.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import REPO

SCRIPT = textwrap.dedent("""
    import os, signal, sys, threading
    sys.path.insert(0, sys.argv[1])
    from radiogenomics.interrupts import defer_sigint_during

    class Handler:
        # like Snakemake 9.27.1's ColorizingTextHandler.emit: swallows KeyboardInterrupt
        calls = 0
        def emit(self, record):
            try:
                Handler.calls += 1
                if record == "interrupt me":
                    os.kill(os.getpid(), signal.SIGINT)
                    for _ in range(1000):      # the Python handler runs between bytecodes
                        pass
            except (KeyboardInterrupt, SystemExit):
                print("swallowed", flush=True)

    guarded = sys.argv[2] == "guarded"
    if guarded:
        assert defer_sigint_during(Handler, "emit")
        assert defer_sigint_during(Handler, "emit")          # idempotent
    h = Handler()
    h.emit("plain")                                         # no signal: nothing happens
    try:
        h.emit("interrupt me")
        print("no interrupt", flush=True)
    except KeyboardInterrupt:
        print("interrupt raised after the call", flush=True)
    # another thread's calls are not guarded (and raise nothing)
    t = threading.Thread(target=h.emit, args=("plain",)); t.start(); t.join()
    # outside the guarded call SIGINT behaves as Python's default
    try:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
        print("default lost", flush=True)
    except KeyboardInterrupt:
        print("default raised", flush=True)
    print("calls", Handler.calls)
""")


def run(mode: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO / "workflow" / "scripts"), mode],
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: __import__("signal").signal(2, __import__("signal").SIG_DFL))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n")


def test_unguarded_handler_swallows_the_interrupt():
    out = run("plain")
    assert "swallowed" in out and "no interrupt" in out      # the defect the guard exists for
    assert "default raised" in out


def test_guard_raises_the_interrupt_after_the_call():
    out = run("guarded")
    assert "swallowed" not in out
    assert "interrupt raised after the call" in out
    assert "default raised" in out and "calls 3" in out


def test_guard_leaves_an_ignored_sigint_alone():
    script = ("import signal, sys; sys.path.insert(0, sys.argv[1]); signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
              "from radiogenomics.interrupts import defer_sigint_during\n"
              "class H:\n    def emit(self): pass\n"
              "assert defer_sigint_during(H, 'emit') is False\n"
              "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN\n")
    subprocess.run([sys.executable, "-c", script, str(REPO / "workflow" / "scripts")], check=True, timeout=60)


CALLBACK_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time, weakref
    sys.path.insert(0, sys.argv[1])
    from radiogenomics import interrupts

    if sys.argv[2] == "guarded":
        interrupts.redeliver_unraisable_interrupts()
        interrupts.redeliver_unraisable_interrupts()          # idempotent: no self-chaining
        assert sys.unraisablehook is interrupts._redeliver
        assert interrupts._redeliver.previous is sys.__unraisablehook__

    def interrupt(*_):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):              # the Python handler runs here, inside the callback
            pass

    class Finalised:
        def __del__(self):
            interrupt()

    class Plain:
        pass

    def check(name, objects):
        try:
            objects.clear()                # drops the last reference: runs the callback
            time.sleep(2)                  # the second delivery comes within 50 ms
            print(name, "no interrupt", flush=True)
        except KeyboardInterrupt:
            print(name, "interrupt raised after the callback", flush=True)

    watched = [Plain()]
    ref = weakref.ref(watched[0], interrupt)
    check("weakref", watched)
    check("__del__", [Finalised()])
    # other unraisable exceptions still reach the previous hook
    class Broken:
        def __del__(self):
            raise ValueError("still reported")
    Broken()
    print("done", flush=True)
""")


def run_callbacks(mode: str) -> tuple[list[str], str]:
    proc = subprocess.run([sys.executable, "-c", CALLBACK_SCRIPT, str(REPO / "workflow" / "scripts"), mode],
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: __import__("signal").signal(2, __import__("signal").SIG_DFL))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n"), proc.stderr


def test_python_drops_an_interrupt_inside_a_callback():
    out, err = run_callbacks("plain")
    assert "weakref no interrupt" in out and "__del__ no interrupt" in out   # the defect
    assert err.count("KeyboardInterrupt") == 2 and "still reported" in err


def test_interrupt_inside_a_callback_is_delivered_after_it():
    out, err = run_callbacks("guarded")
    assert "weakref interrupt raised after the callback" in out
    assert "__del__ interrupt raised after the callback" in out
    assert "done" in out
    assert "KeyboardInterrupt" not in err and "still reported" in err

"""Resume: interrupt a running workflow (Ctrl-C while training jobs run) and restart it.

Starts from a copy of the finished tiny run (``demo_run``) whose autoencoder
cross-validation outputs were deleted and runs it towards the autoencoder's model selection
(three CV training jobs on 2 cores, then the selection). The moment of the interrupt is
controlled, not raced: as soon as one training job runs, the test stops that job's process
(SIGSTOP), so the run cannot finish until the test lets it; then it waits for what it needs
and sends SIGINT to the whole process group, as a terminal's Ctrl-C does, and lets the
stopped job go on (SIGCONT) so that it receives the SIGINT too.

* ``between_prints``: the SIGINT comes once another training job has finished. (It once
  landed while Snakemake's main thread ran a ``WeakSet`` callback, where Python drops a
  ``KeyboardInterrupt``; ``radiogenomics.interrupts`` now delivers it again after the
  callback, and ``tests/test_interrupts.py`` reproduces that case deterministically.)
* ``during_print``: the SIGINT comes while Snakemake's main thread is blocked inside a log
  print. Snakemake's console stream is a pipe the test owns (the launcher below points
  ``sys.stderr`` of the Snakemake process, and nothing else, at it); the test stops
  reading, fills the pipe, waits until ``/proc`` shows the main thread in ``write(2)`` on
  it, and only then interrupts. Snakemake 9.27.1's console handler swallows a
  ``KeyboardInterrupt`` raised there; ``radiogenomics.interrupts`` (installed by
  ``workflow/rules/common.smk``) re-raises it after the print.

Both check that

  * Snakemake reported terminating on user request, exited non-zero, released its lock
    and left no partial output (no temporary file of an atomic write; what the interrupted
    jobs left is marked incomplete and rebuilt by the profile's rerun-incomplete);
  * a plain restart finishes the run;
  * jobs completed before the interrupt (and everything upstream) were not redone: their
    outputs keep their modification times and the restart does not schedule them.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import snakemake, tiny_config

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

TARGET = "results/autoencoder/selection.tsv"
DONE_BEFORE_TRAINING = {"demo_cohort", "expression", "cohort", "patient_features", "collect_features"}
TERMINATING = "Terminating processes on user request"
TRAINING_SCRIPT = "train_autoencoder.py"
WAIT_S = 300
LOG_FD = 3  # the launcher's console stream (during_print)

# Runs Snakemake's own command line with sys.stderr (its console log stream) on fd 3. The
# jobs it starts inherit fds 1 and 2 (a file), never fd 3, so only Snakemake's prints can
# block on the pipe behind it.
LAUNCHER = (
    "import io, os, sys\n"
    f"os.set_inheritable({LOG_FD}, False)\n"
    f"sys.stderr = io.TextIOWrapper(io.FileIO({LOG_FD}, 'w'), line_buffering=True)\n"
    "sys.argv = ['snakemake', *sys.argv[1:]]\n"
    "from snakemake.cli import main\n"
    "main()\n"
)


def job_stats(text: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table (rule -> count) from a run's output."""
    stats, inside = {}, False
    for line in text.splitlines():
        if line.startswith("Job stats:"):
            inside, stats = True, {}
            continue
        if inside:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] == "total":
                    inside = False
                else:
                    stats[parts[0]] = int(parts[1])
    return stats


def cv_jobs(text: str) -> tuple[dict[str, str], set[str]]:
    """From a run's output: autoencoder_cv jobs started (jobid -> output) and finished."""
    started = {m.group(2): m.group(1) for m in re.finditer(
        r"rule autoencoder_cv:\n(?:    .*\n)*?    output: (\S+)\n(?:    .*\n)*?    jobid: (\d+)\n", text)}
    done = set(re.findall(r"Finished jobid: (\d+) \(Rule: autoencoder_cv\)", text))
    return started, done


def snapshot(root: Path) -> dict[str, int]:
    """mtime (ns) of every output file (logs and benchmarks are rewritten by design)."""
    files = {}
    for top in ("results", "resources"):
        for path in (root / top).rglob("*"):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and not rel.startswith(("results/logs/", "results/benchmarks/")):
                files[rel] = path.stat().st_mtime_ns
    return files


# ---- processes, seen through /proc ----------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _state(pid: int) -> str | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_a_training_job(snakemake_pid: int, deadline: float) -> int:
    """SIGSTOP one running training job of the run; returns its pid once it is stopped."""
    while time.monotonic() < deadline:
        for pid in _children(snakemake_pid):
            if TRAINING_SCRIPT in _cmdline(pid) and _state(pid) in ("R", "S", "D"):
                os.kill(pid, signal.SIGSTOP)
                for _ in range(100):
                    if _state(pid) in ("T", "t"):
                        return pid
                    if _state(pid) in (None, "Z", "X"):
                        break                    # it ended just now: take another one
                    time.sleep(0.01)
        time.sleep(0.05)
    pytest.fail("no training job of the run was seen running")


def blocked_in_write(pid: int, fd: int) -> bool:
    """Whether the process's main thread is in write(fd, ...), or waits (futex) for the
    console handler's lock while another of its threads is in that write."""
    calls = {}
    for task in (Path("/proc") / str(pid) / "task").iterdir():
        try:
            calls[int(task.name)] = (task / "syscall").read_text().split()
        except OSError:
            continue
    writing = {tid for tid, call in calls.items() if call[:2] == ["1", hex(fd)]}
    main = calls.get(pid, [])
    return pid in writing or bool(writing and main[:1] == ["202"])


# ---- the console pipe of the during_print case ----------------------------------------

class Console:
    """Reads a pipe into a string, and can stop reading and fill the pipe on demand."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        self._chunks: list[bytes] = []
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            if self._paused.is_set():
                time.sleep(0.02)
                continue
            ready, _, _ = select.select([self.read_fd], [], [], 0.1)
            if ready and not self._paused.is_set():
                data = os.read(self.read_fd, 65536)
                if not data:
                    break
                self._chunks.append(data)

    def pause_and_fill(self) -> int:
        """Stop reading and fill the pipe through a non-blocking description of our own
        (O_NONBLOCK on it leaves the writer's blocking); the filler is NUL bytes."""
        self._paused.set()
        time.sleep(0.2)                      # the reader sees the flag before its next read
        fd = os.open(f"/proc/self/fd/{self.write_fd}", os.O_WRONLY | os.O_NONBLOCK)
        filled = 0
        try:
            for size in (4096, 1):
                while True:
                    try:
                        filled += os.write(fd, b"\0" * size)
                    except BlockingIOError:
                        break
        finally:
            os.close(fd)
        return filled

    def resume(self):
        self._paused.clear()

    def close(self) -> str:
        self._paused.clear()
        os.close(self.write_fd)
        self._thread.join(timeout=30)
        self._stop.set()
        os.close(self.read_fd)
        return self.snapshot()

    def snapshot(self) -> str:
        """What was read so far, without the filler."""
        return b"".join(self._chunks).replace(b"\0", b"").decode(errors="replace")


# ---- the test ---------------------------------------------------------------------------

def as_at_a_terminal():
    """In the child before exec: SIGINT delivered as at a terminal (a test runner started
    in the background by a non-interactive shell inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted_run(root: Path, tmp_path: Path, during_print: bool) -> str:
    """Run towards TARGET, interrupt it as described in the module docstring; returns the
    run's console output."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    args = ["--cores", "2", TARGET]
    jobs_out = open(tmp_path / "first.jobs.log", "w+")
    console = Console() if during_print else None
    if during_print:
        cmd = [sys.executable, "-c", LAUNCHER, *args]
        # the launcher expects the pipe's write end as fd 3
        proc = subprocess.Popen(cmd, cwd=root, stdout=jobs_out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, pass_fds=(LOG_FD,),
                                preexec_fn=lambda: (as_at_a_terminal(), os.dup2(console.write_fd, LOG_FD)))
        console.start()
        output = console.snapshot
    else:
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=root, stdout=jobs_out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=as_at_a_terminal)

        def output():
            jobs_out.seek(0)
            return jobs_out.read()

    deadline = time.monotonic() + WAIT_S
    stopped = None
    try:
        stopped = stop_a_training_job(proc.pid, deadline)
        if during_print:
            console.pause_and_fill()
            while time.monotonic() < deadline and proc.poll() is None:
                if blocked_in_write(proc.pid, LOG_FD):
                    break
                time.sleep(0.05)
            else:
                pytest.fail(f"Snakemake never blocked in a log print (exit {proc.poll()})")
        else:
            while time.monotonic() < deadline and proc.poll() is None:
                if cv_jobs(output())[1]:
                    break
                time.sleep(0.1)
            else:
                pytest.fail(f"no training job finished (snakemake exit {proc.poll()}):\n{output()[-6000:]}")
        os.killpg(proc.pid, signal.SIGINT)              # Ctrl-C: the whole process group
        os.kill(stopped, signal.SIGCONT)                # ... which the stopped job receives now
        if during_print:
            time.sleep(0.5)                             # the SIGINT is in before the print ends
            console.resume()
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            pytest.fail(f"snakemake did not stop within 180 s of SIGINT:\n{output()[-6000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if stopped is not None and _state(stopped) in ("T", "t"):
            os.kill(stopped, signal.SIGCONT)
    text = console.close() if during_print else output()
    jobs_out.seek(0)
    text = text + jobs_out.read() if during_print else text
    assert TERMINATING in text, f"Snakemake did not report the interrupt (exit {proc.returncode}):\n{text[-6000:]}"
    assert proc.returncode != 0, f"the interrupted run exited 0:\n{text[-4000:]}"
    return text


@pytest.mark.parametrize("moment", ["between_prints", "during_print"])
def test_interrupted_run_resumes_without_redoing_or_partial_outputs(demo_run, tmp_path, moment):
    cfg = tiny_config()
    root = tmp_path / "run"
    shutil.copytree(demo_run, root, symlinks=True,
                    ignore=shutil.ignore_patterns("locks", "incomplete", "slurm_logs"))
    cv = root / "results" / "autoencoder" / "cv"
    logs = root / "results" / "logs" / "autoencoder_cv"
    shutil.rmtree(cv)
    shutil.rmtree(logs)
    (root / TARGET).unlink()                         # and the selection's other output
    (root / "results" / "autoencoder" / "selected.json").unlink()

    first_log = interrupted_run(root, tmp_path, during_print=moment == "during_print")
    assert not (root / TARGET).exists(), "the run finished although a training job was stopped"

    # Nothing partial: no leftover temporary files of atomic writes, Snakemake's lock
    # released; outputs of interrupted jobs are removed or rebuilt by the restart (checked
    # below: it reruns exactly the jobs that had not finished).
    leftovers = [p for p in (root / "results").rglob(".*.tmp*")]
    assert not leftovers, f"temporary files of interrupted writes: {leftovers}"
    locks = root / ".snakemake" / "locks"
    assert not (locks.is_dir() and any(locks.iterdir())), "snakemake left its lock behind"

    before = snapshot(root)
    started, done = cv_jobs(first_log)
    finished = {j: o for j, o in started.items() if j in done}
    for output in finished.values():
        assert output in before, f"finished job's output {output} is gone"
    assert any(f.startswith("results/features/") for f in before)

    second = snakemake(root, TARGET)                 # raises with the log if it fails
    log = second.stdout + second.stderr
    after = snapshot(root)
    # Jobs Snakemake reported finished must not be redone. A job whose process was writing
    # when Ctrl-C came may have left its output (atomically renamed) without Snakemake
    # registering it: it is incomplete, and rerunning it is correct.
    unfinished = {o for j, o in started.items() if j not in done}
    redone = sorted(f for f, mtime in before.items() if after.get(f) != mtime and f not in unfinished)
    assert not redone, f"outputs completed before the interrupt were rewritten: {redone}"
    rerun = DONE_BEFORE_TRAINING & set(job_stats(log))
    assert not rerun, f"the restart reran completed rules {rerun}:\n{log[-4000:]}"
    # The restart runs every training job whose output is missing (at least the stopped one)
    # and none that the first run reported finished. A job between those two may go either
    # way: the SIGINT can land after Snakemake registered it complete but before it printed
    # "Finished jobid" (then it is rightly kept), or after its process wrote the output but
    # before Snakemake registered it (then it is incomplete and rightly rerun).
    n_cv = job_stats(log).get("autoencoder_cv", 0)
    outputs = {h.relative_to(root).as_posix() for h in cv.rglob("history.tsv")}   # all of them, after the restart
    missing = {o for o in outputs if o not in before}
    assert len(outputs) == cfg["cv"]["folds"] and missing, (outputs, missing)
    assert len(missing) <= n_cv <= cfg["cv"]["folds"] - len(finished), \
        f"restart ran {n_cv} autoencoder_cv jobs ({len(missing)} outputs missing, {len(finished)} reported " \
        f"finished):\n{log[-4000:]}"

    # The run is complete and every training output whole.
    assert (root / TARGET).is_file()
    histories = sorted(cv.rglob("history.tsv"))
    assert len(histories) == cfg["cv"]["folds"], histories
    for path in histories:
        history = pd.read_csv(path, sep="\t")
        assert list(history["epoch"]) == list(range(1, cfg["autoencoder"]["epochs"] + 1)), path
    assert not list((root / "results").rglob(".*.tmp*"))

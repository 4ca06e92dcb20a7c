"""Resume: interrupt a running workflow (Ctrl-C while training jobs run) and restart it.

Starts from a copy of the finished tiny run (``demo_run``) whose autoencoder
cross-validation outputs were deleted, runs it towards the autoencoder's model selection
(three CV training jobs on 2 cores, then the selection), sends SIGINT to the whole
process group, as a terminal's Ctrl-C does, once one training job has finished and
another is running, and checks that

  * Snakemake stopped, released its lock and left no partial output: no temporary file
    of an atomic write is left over, and whatever the interrupted jobs left is rebuilt
    (Snakemake marks it incomplete; the profile's rerun-incomplete redoes it);
  * a plain restart finishes the run;
  * jobs completed before the interrupt (the finished training job, and everything
    upstream) were not redone: their outputs keep their modification times and the
    restart does not schedule them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import shutil

import pandas as pd
import pytest

from conftest import snakemake, tiny_config

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

TARGET = "results/autoencoder/selection.tsv"
DONE_BEFORE_TRAINING = {"demo_cohort", "expression", "cohort", "patient_features", "collect_features"}
# (the run is started with the autoencoder CV outputs deleted from a finished run)


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


def test_interrupted_run_resumes_without_redoing_or_partial_outputs(demo_run, tmp_path):
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
    out = open(tmp_path / "first.log", "w+")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    first = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", TARGET],
                             cwd=root, stdout=out, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
    running, finished = {}, {}
    deadline = time.monotonic() + 600
    try:
        # Wait until Snakemake reports one training job finished while another runs.
        while time.monotonic() < deadline and first.poll() is None:
            out.seek(0)
            started, done = cv_jobs(out.read())
            finished = {j: o for j, o in started.items() if j in done}
            running = {j: o for j, o in started.items() if j not in done}
            if finished and running:
                break
            time.sleep(0.2)
        if not (finished and running):
            out.seek(0)
            pytest.fail(f"never saw one training job finished and one running (snakemake exit "
                        f"{first.poll()}):\n{out.read()[-6000:]}")
        os.killpg(first.pid, signal.SIGINT)          # Ctrl-C: the whole process group
        try:
            first.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
            out.seek(0)
            pytest.fail(f"snakemake did not stop within 180 s of SIGINT:\n{out.read()[-6000:]}")
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    out.seek(0)
    first_log = out.read()
    assert first.returncode != 0, f"the run finished before the interrupt:\n{first_log[-4000:]}"
    assert not (root / TARGET).exists(), "the run finished before the interrupt"

    # Nothing partial: no leftover temporary files of atomic writes, Snakemake's lock
    # released; outputs of interrupted jobs are removed or rebuilt by the restart (checked
    # below: it reruns exactly the jobs that had not finished).
    leftovers = [p for p in (root / "results").rglob(".*.tmp*")]
    assert not leftovers, f"temporary files of interrupted writes: {leftovers}"
    locks = root / ".snakemake" / "locks"
    assert not (locks.is_dir() and any(locks.iterdir())), "snakemake left its lock behind"

    before = snapshot(root)
    for output in finished.values():
        assert output in before, f"finished job's output {output} is gone"
    assert any(f.startswith("results/features/") for f in before)

    second = snakemake(root, TARGET)                 # raises with the log if it fails
    log = second.stdout + second.stderr
    after = snapshot(root)
    # Jobs Snakemake reported finished (by the end of the first run's output) must not be
    # redone. A job whose process was writing when Ctrl-C came may have left its output
    # (atomically renamed) without Snakemake registering it: it is incomplete, and rerunning
    # it is correct.
    started, done = cv_jobs(first_log)
    finished = {j: o for j, o in started.items() if j in done}
    unfinished = {o for j, o in started.items() if j not in done}
    redone = sorted(f for f, mtime in before.items() if after.get(f) != mtime and f not in unfinished)
    assert not redone, f"outputs completed before the interrupt were rewritten: {redone}"
    rerun = DONE_BEFORE_TRAINING & set(job_stats(log))
    assert not rerun, f"the restart reran completed rules {rerun}:\n{log[-4000:]}"
    n_cv = job_stats(log).get("autoencoder_cv", 0)
    assert n_cv == cfg["cv"]["folds"] - len(finished), f"restart ran {n_cv} autoencoder_cv jobs:\n{log[-4000:]}"

    # The run is complete and every training output whole.
    assert (root / TARGET).is_file()
    histories = sorted(cv.rglob("history.tsv"))
    assert len(histories) == cfg["cv"]["folds"], histories
    for path in histories:
        history = pd.read_csv(path, sep="\t")
        assert list(history["epoch"]) == list(range(1, cfg["autoencoder"]["epochs"] + 1)), path
    assert not list((root / "results").rglob(".*.tmp*"))

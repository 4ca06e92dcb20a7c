"""GPU placement for training jobs on a workstation.

Snakemake's ``--resources gpu=N`` caps how many GPU-tagged jobs run at once but does
not say which GPU each job gets, so without help every TensorFlow process would use
GPU 0. :func:`claim` gives each job its own GPU: it takes an exclusive ``flock`` on
one of the files ``<slots_dir>/gpu<i>.lock`` (one per visible GPU) and exports
``CUDA_VISIBLE_DEVICES=<i>`` *before* TensorFlow is imported. The lock belongs to
the open file, so it is released when the job ends, also when it crashes or is
killed: a slot is never leaked.

Under a batch scheduler (``SLURM_JOB_ID`` set) the scheduler has already restricted
``CUDA_VISIBLE_DEVICES`` to the job's allocation, and no slot is taken.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


def visible_gpus(env=None) -> list[str]:
    """GPU identifiers this process may use: ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi -L``."""
    env = os.environ if env is None else env
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is not None:
        value = value.strip()
        if value in ("", "-1", "NoDevFiles"):
            return []
        return [v.strip() for v in value.split(",") if v.strip()]
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


class Slot:
    """A claimed GPU (``device`` is None when the job runs on the CPU)."""

    def __init__(self, device: str | None, handle=None, path: Path | None = None):
        self.device = device
        self._handle = handle
        self.path = path

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def claim(slots_dir, gpus: list[str] | None = None, env=None, poll_s: float = 2.0,
          timeout_s: float | None = None) -> Slot:
    """Claim a free GPU and set ``CUDA_VISIBLE_DEVICES`` in ``env`` (default ``os.environ``).

    Tries the GPUs in order and takes the first whose lock is free. If all are
    taken (more concurrent GPU jobs than GPUs, i.e. ``--resources gpu=N`` missing or
    larger than the number of GPUs), it waits for one to free up, polling every
    ``poll_s`` seconds (``timeout_s=None``: wait as long as needed).
    """
    env = os.environ if env is None else env
    if env.get("SLURM_JOB_ID"):
        log.info("running under SLURM job %s: using its CUDA_VISIBLE_DEVICES=%s",
                 env["SLURM_JOB_ID"], env.get("CUDA_VISIBLE_DEVICES", "<unset>"))
        return Slot(env.get("CUDA_VISIBLE_DEVICES"))
    gpus = visible_gpus(env) if gpus is None else list(gpus)
    if not gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""   # keep TensorFlow from probing for devices
        log.info("no GPU visible: training on the CPU")
        return Slot(None)
    slots_dir = Path(slots_dir)
    slots_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    waited = False
    while True:
        for gpu in gpus:
            path = slots_dir / f"gpu{gpu}.lock"
            handle = open(path, "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            env["CUDA_VISIBLE_DEVICES"] = gpu
            log.info("claimed GPU %s (%s)", gpu, path)
            return Slot(gpu, handle, path)
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"no free GPU slot in {slots_dir} after {timeout_s} s")
        if not waited:
            log.warning("all %d GPUs are in use by other jobs; waiting for one "
                        "(run snakemake with --resources gpu=%d to avoid this)", len(gpus), len(gpus))
            waited = True
        time.sleep(poll_s)

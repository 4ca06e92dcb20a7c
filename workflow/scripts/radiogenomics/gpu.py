"""GPU placement for training jobs on a workstation.

Snakemake's ``--resources gpu=N`` caps how many GPU-tagged jobs run at once but does
not say which GPU each job gets, so without help every TensorFlow process would use
GPU 0. :func:`claim` gives each job its own GPU: it takes an exclusive ``flock`` on
one of the files ``<slots_dir>/<host>/gpu<i>.lock`` (one per visible GPU) and exports
``CUDA_VISIBLE_DEVICES=<i>`` *before* TensorFlow is imported. The lock belongs to
the open file, which the kernel closes when the process ends, also when it crashes or
is killed: a slot is never leaked, and there is no stale-lock cleanup to do. The
claimed slot is also remembered in this module, so the lock is held until the process
exits even if the caller drops the returned :class:`Slot`. The training scripts hold it in
a ``with`` block (``with gpu.claim(slots_dir) as slot: ...``), so a job that fails also
gives its GPU back at once, before its process has finished exiting.

Under SLURM (``SLURM_JOB_ID`` set) the scheduler has already restricted
``CUDA_VISIBLE_DEVICES`` to the job's allocation: with at most one GPU there nothing
is claimed; with several (e.g. ``snakemake --resources gpu=2`` inside
``salloc --gpus=2``) slots are claimed among them, in a lock directory of that
allocation only (GPU indices restart at 0 in every allocation).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Slots claimed by this process: keeps their lock files open until the process exits.
_HELD: list["Slot"] = []


def visible_gpus(env=None) -> list[str]:
    """GPU identifiers this process may use: ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi``."""
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

    @property
    def held(self) -> bool:
        """True while this process holds the slot's lock."""
        return self._handle is not None

    def release(self) -> None:
        """Give the GPU back before the process ends (it is released at exit anyway)."""
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
        if self in _HELD:
            _HELD.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        return f"Slot(device={self.device!r}, path={str(self.path) if self.path else None!r})"


def _try_lock(path: Path):
    """An open handle holding an exclusive lock on ``path``, or None if it is taken."""
    handle = open(path, "a+")          # O_CLOEXEC: child programs do not inherit it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {socket.gethostname()}\n")   # for humans only
        handle.flush()
    except BaseException:
        handle.close()                 # closing the file releases the lock
        raise
    return handle


def claim(slots_dir, gpus: list[str] | None = None, env=None, poll_s: float = 2.0,
          timeout_s: float | None = None) -> Slot:
    """Claim a free GPU and set ``CUDA_VISIBLE_DEVICES`` in ``env`` (default ``os.environ``).

    ``gpus``: the GPU identifiers to choose from (default :func:`visible_gpus`).
    Tries them in order and takes the first whose lock is free. If all are taken
    (more concurrent GPU jobs than GPUs, i.e. ``--resources gpu=N`` missing or larger
    than the number of GPUs), it waits for one to free up, polling every ``poll_s``
    seconds; after ``timeout_s`` seconds (None: never) it raises ``TimeoutError``.
    With no GPU at all it sets ``CUDA_VISIBLE_DEVICES=""`` and returns a CPU slot.
    Call it before TensorFlow is imported, and keep the process alive while training.
    """
    env = os.environ if env is None else env
    gpus = visible_gpus(env) if gpus is None else [str(g) for g in gpus]
    slots_dir = Path(slots_dir)
    job = env.get("SLURM_JOB_ID")
    if job:
        if len(gpus) <= 1:
            log.info("running under SLURM job %s: using its CUDA_VISIBLE_DEVICES=%s",
                     job, env.get("CUDA_VISIBLE_DEVICES", "<unset>"))
            return Slot(gpus[0] if gpus else env.get("CUDA_VISIBLE_DEVICES"))
        slots_dir = slots_dir / f"slurm-{job}"
    else:
        # Per host: a working directory on a shared file system may be used from
        # several machines, and GPU i of one machine is not GPU i of another.
        slots_dir = slots_dir / socket.gethostname()
    if not gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""   # keep TensorFlow from probing for devices
        log.info("no GPU visible: training on the CPU")
        return Slot(None)
    slots_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    waited = False
    while True:
        for gpu in gpus:
            path = slots_dir / f"gpu{gpu}.lock"
            handle = _try_lock(path)
            if handle is None:
                continue
            env["CUDA_VISIBLE_DEVICES"] = gpu
            slot = Slot(gpu, handle, path)
            _HELD.append(slot)
            log.info("claimed GPU %s (%s)%s", gpu, path,
                     f" after waiting {time.monotonic() - start:.0f} s" if waited else "")
            return slot
        if timeout_s is not None and time.monotonic() - start >= timeout_s:
            raise TimeoutError(f"no free GPU slot among {gpus} in {slots_dir} after {timeout_s} s")
        if not waited:
            log.warning("all %d GPUs are in use by other jobs; waiting for one "
                        "(run snakemake with --resources gpu=%d to avoid this)", len(gpus), len(gpus))
            waited = True
        time.sleep(poll_s)

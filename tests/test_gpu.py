"""GPU slot claiming (radiogenomics.gpu), tested without a GPU.

Concurrency is tested with real processes: each child claims a slot from a fake GPU
list, prints the GPU it got and holds it until its stdin is closed (or it is killed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from radiogenomics import gpu

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"

HOLDER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {scripts!r})
    from radiogenomics import gpu
    gpus = sys.argv[2].split(",")
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else None
    try:
        {claim}
    except TimeoutError:
        print("timeout", flush=True)
        sys.exit(3)
    print(os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
    sys.stdin.read()      # hold the slot until the parent closes our stdin
    """
)


def holder(slots: Path, gpus: str, timeout: float | None = None, keep_reference: bool = True):
    claim = ("slot = gpu.claim(sys.argv[1], gpus=gpus, timeout_s=timeout, poll_s=0.05)"
             if keep_reference else
             "gpu.claim(sys.argv[1], gpus=gpus, timeout_s=timeout, poll_s=0.05); import gc; gc.collect()")
    code = HOLDER.format(scripts=str(SCRIPTS), claim=claim)
    args = [sys.executable, "-c", code, str(slots), gpus]
    if timeout is not None:
        args.append(str(timeout))
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def first_line(proc, timeout=30) -> str:
    """The child's first output line (its GPU), failing instead of hanging."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        proc.kill()
        pytest.fail(f"child {proc.pid} printed nothing within {timeout} s")
    return proc.stdout.readline().strip()


def finish(*procs):
    for p in procs:
        if p.poll() is None:
            p.stdin.close()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_visible_gpus_from_cuda_visible_devices():
    assert gpu.visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1, 3"}) == ["0", "1", "3"]
    assert gpu.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert gpu.visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []


def test_visible_gpus_without_nvidia_smi(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))          # no nvidia-smi on PATH
    assert gpu.visible_gpus({}) == []


def test_no_gpu_means_cpu_slot(tmp_path):
    env = {}
    slot = gpu.claim(tmp_path, gpus=[], env=env)
    assert slot.device is None
    assert env["CUDA_VISIBLE_DEVICES"] == ""


def test_claim_sets_cuda_visible_devices_and_release_frees(tmp_path):
    env_a, env_b = {}, {}
    a = gpu.claim(tmp_path, gpus=["0", "1"], env=env_a)
    b = gpu.claim(tmp_path, gpus=["0", "1"], env=env_b)
    try:
        assert (a.device, b.device) == ("0", "1")
        assert (env_a["CUDA_VISIBLE_DEVICES"], env_b["CUDA_VISIBLE_DEVICES"]) == ("0", "1")
        with pytest.raises(TimeoutError):
            gpu.claim(tmp_path, gpus=["0", "1"], env={}, timeout_s=0.2, poll_s=0.05)
        a.release()
        assert not a.held
        c = gpu.claim(tmp_path, gpus=["0", "1"], env={}, timeout_s=1, poll_s=0.05)
        assert c.device == "0"
        c.release()
    finally:
        a.release()
        b.release()


def test_slot_is_released_when_the_job_fails_inside_with(tmp_path):
    with pytest.raises(RuntimeError, match="training failed"):
        with gpu.claim(tmp_path, gpus=["0"], env={}) as slot:
            assert slot.held
            raise RuntimeError("training failed")
    assert not slot.held
    again = gpu.claim(tmp_path, gpus=["0"], env={}, timeout_s=0.5, poll_s=0.05)
    try:
        assert again.device == "0"
    finally:
        again.release()


def test_training_scripts_hold_their_slot_in_a_with_block():
    """Every rule script that claims a GPU does so as the context manager of a with statement
    whose body is the whole job (so the slot is released however the job ends)."""
    import ast

    claiming = []
    for script in sorted(SCRIPTS.glob("*.py")):
        tree = ast.parse(script.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr == "claim" and getattr(n.func.value, "id", None) == "gpu"]
        if not calls:
            continue
        claiming.append(script.name)
        managed = [item.context_expr for node in tree.body if isinstance(node, ast.With) for item in node.items]
        assert len(calls) == 1 and calls[0] in managed, f"{script.name}: gpu.claim outside a top-level with"
        last = tree.body[-1]
        assert isinstance(last, ast.With) and last.items[0].context_expr is calls[0], \
            f"{script.name}: statements after the with block run without the slot"
    assert claiming == ["train_autoencoder.py", "train_dnn.py", "train_final_dnn.py"], claiming


def test_concurrent_processes_get_different_gpus(tmp_path):
    procs = [holder(tmp_path, "0,1,2") for _ in range(3)]
    try:
        devices = sorted(first_line(p) for p in procs)
        assert devices == ["0", "1", "2"]
        # a fourth job finds every GPU taken
        extra = holder(tmp_path, "0,1,2", timeout=0.3)
        assert first_line(extra) == "timeout"
        extra.wait(timeout=20)
    finally:
        finish(*procs)


def test_waiting_job_gets_the_gpu_a_finished_job_released(tmp_path):
    a = holder(tmp_path, "0,1")
    b = holder(tmp_path, "0,1")
    try:
        got = {first_line(a): a, first_line(b): b}
        assert sorted(got) == ["0", "1"]
        waiting = holder(tmp_path, "0,1", timeout=30)
        finish(got["1"])                           # the job on GPU 1 ends normally
        assert first_line(waiting) == "1"
        finish(waiting)
    finally:
        finish(a, b)


def test_crashed_holder_releases_its_slot(tmp_path):
    a = holder(tmp_path, "0")
    try:
        assert first_line(a) == "0"
        os.kill(a.pid, signal.SIGKILL)             # crash: no cleanup code runs
        a.wait(timeout=20)
        b = holder(tmp_path, "0", timeout=10)
        assert first_line(b) == "0"
        finish(b)
    finally:
        finish(a)


def test_slot_held_even_if_caller_drops_it(tmp_path):
    a = holder(tmp_path, "0", keep_reference=False)
    try:
        assert first_line(a) == "0"
        b = holder(tmp_path, "0", timeout=0.3)
        assert first_line(b) == "timeout"
        b.wait(timeout=20)
    finally:
        finish(a)


def test_slurm_single_gpu_allocation_is_used_as_is(tmp_path):
    env = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0"}
    slot = gpu.claim(tmp_path, env=env)
    assert slot.device == "0" and not slot.held
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    assert not any(tmp_path.iterdir())             # no lock taken


def test_slurm_multi_gpu_allocation_claims_within_the_allocation(tmp_path):
    env1 = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0,1"}
    env2 = dict(env1)
    other_allocation = {"SLURM_JOB_ID": "43", "CUDA_VISIBLE_DEVICES": "0,1"}
    s1, s2 = gpu.claim(tmp_path, env=env1), gpu.claim(tmp_path, env=env2)
    s3 = gpu.claim(tmp_path, env=other_allocation)
    try:
        assert {env1["CUDA_VISIBLE_DEVICES"], env2["CUDA_VISIBLE_DEVICES"]} == {"0", "1"}
        assert other_allocation["CUDA_VISIBLE_DEVICES"] == "0"   # its own GPU 0
        assert s1.path.parent.name == "slurm-42" and s3.path.parent.name == "slurm-43"
    finally:
        for s in (s1, s2, s3):
            s.release()

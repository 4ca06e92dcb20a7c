"""tests/benchmarks/gpu_check.py in its reduced mode on the CPU: every section, numbers that parse.

The check is run as a subprocess with a clean environment (no PYTHONPATH: it must find the
package from the working tree itself; JAX on the CPU), from a folder outside the repository,
once with Keras' initial weights and once with the numpy fallback. Timings are not asserted,
only that each number is printed, parses and is finite and positive.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")

SCRIPT = Path(__file__).resolve().parent / "benchmarks" / "gpu_check.py"
SECTIONS = ["device", "bandwidth", "step times", "full fit", "projection", "floor"]
NUM = r"([-+0-9.eE]+|nan|inf)"
#: name -> pattern whose group(1) is a number that must be finite and > 0
NUMBERS = {
    "bandwidth": rf"^copy bandwidth \(read\+write\): {NUM} GB/s",
    "imports": rf"^imports \(jax, keras\): {NUM} s",
    "ae 1 fold": rf"^autoencoder, 1 fold: {NUM} ms/step",
    "ae 10 folds": rf"^autoencoder, 10 folds batched: {NUM} ms/step",
    "net 1 fold": rf"^network, 1 fold: {NUM} ms/step",
    "net 10 folds": rf"^network, 10 folds batched: {NUM} ms/step",
    "full fit": rf"full fit: {NUM} s wall",
    "full fit loss": rf"last epoch mean loss {NUM},",
    "full fit val_loss": rf"val_loss {NUM}",
    "per ae job": rf"^per job \(folds_per_job all\): autoencoder {NUM} s",
    "per net job": rf", network {NUM} s; final",
    "total, 1 fold per job": rf"^total, folds_per_job 1: {NUM} h",
    "total, all folds per job": rf"^total, folds_per_job all: {NUM} h",
    "floor ae 1": rf"^autoencoder, 1 fold: floor {NUM} ms/step, measured \S+ ms/step: \S+x floor",
    "ratio ae 10": rf"^autoencoder, 10 folds: floor \S+ ms/step, measured \S+ ms/step: {NUM}x floor",
    "ratio net 1": rf"^network, 1 fold: floor \S+ ms/step, measured \S+ ms/step: {NUM}x floor",
    "ratio net 10": rf"^network, 10 folds: floor \S+ ms/step, measured \S+ ms/step: {NUM}x floor",
}


def run_check(tmp_path, *args):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),  # Keras writes ~/.keras there
        "JAX_PLATFORMS": "cpu",
        "OMP_NUM_THREADS": "1",
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    }
    return subprocess.run([sys.executable, str(SCRIPT), "--scale", "0.02", "--epoch-seconds", "0.05",
                           *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("init", ["auto", "numpy"])
def test_reduced_mode_prints_every_section(tmp_path, init):
    proc = run_check(tmp_path, "--init", init)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    headers = [line[3:] for line in out.splitlines() if line.startswith("== ")]
    assert headers[:-1] == SECTIONS and headers[-1].startswith("done in"), headers
    for name, pattern in NUMBERS.items():
        m = re.search(pattern, out, re.M)
        assert m, f"{name}: no line matching {pattern!r} in\n{out}"
        value = float(m.group(1))
        assert math.isfinite(value) and value > 0, f"{name}: {m.group(0)!r}"
    # the paper grid's job counts come from config/paper.yaml (5 x 4 x 2 and 18 x 5 + 2, x 10 folds)
    assert "(401 + 920 jobs)" in out and "(41 + 92 jobs)" in out, out
    assert "REDUCED" in out
    init_line = next(line for line in out.splitlines() if line.startswith("initial weights:"))
    try:
        import keras  # noqa: F401

        has_keras = True
    except ImportError:
        has_keras = False
    if init == "numpy":
        assert "numpy Glorot-uniform (--init numpy)" in init_line
    elif has_keras:
        assert "on JAX" in init_line, init_line
    else:
        assert "Keras unusable" in init_line, init_line


def test_budget_stops_the_check(tmp_path):
    """The watchdog stops the check when the budget is used up, and says where."""
    proc = run_check(tmp_path, "--init", "numpy", "--budget-s", "1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert re.search(r"^== budget: 1 s used up during '[a-z ]+'; stopped$", proc.stdout, re.M), proc.stdout


LAYERS_ALIKE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("gpu_check", sys.argv[1])
gc = sys.modules["gpu_check"] = importlib.util.module_from_spec(spec); spec.loader.exec_module(gc)
import keras
cfg, _ = gc.paper_config()
dims = gc.dims_for(cfg, 0.01)
for kind in ("autoencoder", "network"):
    a = gc.make_problem(kind, cfg, dims, 2, keras, seed=1)
    b = gc.make_problem(kind, cfg, dims, 2, None, seed=1)
    assert a.layers == b.layers, (kind, a.layers, b.layers)
    for wa, wb in zip(a.initial, b.initial):
        assert [(k.shape, v.shape) for k, v in wa] == [(k.shape, v.shape) for k, v in wb], kind
        for (ka, _), (kb, vb) in zip(wa, wb):
            bound = (6 / sum(ka.shape)) ** 0.5
            assert abs(kb).max() <= bound and abs(ka).max() <= bound and not vb.any()
    print(kind, [(l.name, l.activation, l.dropout, l.nonneg) for l in a.layers])
"""


def test_numpy_fallback_builds_the_keras_layers(tmp_path):
    """Without Keras the check trains the layers jax_loop.describe reads from the workflow's
    models (same names, activations, dropout, non-negativity) with Glorot-bounded weights."""
    pytest.importorskip("keras")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", LAYERS_ALIKE, str(SCRIPT)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "network [('hidden1', 'relu', 0.25, False)" in proc.stdout, proc.stdout
    assert "('output', 'linear', 0.0, True)" in proc.stdout, proc.stdout

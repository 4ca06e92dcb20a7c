"""training.folds_per_job and training.backend end to end on the tiny cohort.

Each run is a copy of the finished ``demo_run`` (one fold per job, TensorFlow) with another
training section and the training stages' outputs removed, so only the networks are trained
again (the cohort and its image features are kept). Every fold's files must land at the paths
of one fold per job:

* ``folds_per_job: 2`` on TensorFlow (jobs of folds 1-2 and 3): every fold's history,
  predictions and per-epoch predictions byte for byte those of the single-fold jobs;
* ``backend: jax`` with ``folds_per_job: all`` (one job per configuration): the same files
  with the same columns; the association stage's fold models (retrained one fold per job
  with the JAX loop) reproduce the batched CV jobs; and the same config trained twice gives
  the same bytes.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import snakemake, tiny_config

pytestmark = pytest.mark.workflow

#: what the training stages write (removed from the copies, so training runs again)
TRAINED = ("results/autoencoder/cv", "results/autoencoder/final", "results/dnn")
#: targets that need every CV and comparison job (and their selections)
COLLECT = [f"results/dnn/{v}/{t}" for v in ("pretrain_dropout", "scratch", "pretrain")
           for t in ("oof.tsv", "curves.tsv")]
#: every fold job's files
FOLD_FILES = ("results/autoencoder/cv/*/fold*/history.tsv", "results/dnn/pretrain_dropout/lr*/fold*/*",
              "results/dnn/scratch/selected/fold*/*", "results/dnn/pretrain/selected/fold*/*")


def retrain(demo_run: Path, dest: Path, training: dict, *targets: str) -> str:
    """Copy the finished run to ``dest``, set the training section, train again; the log."""
    shutil.copytree(demo_run, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("locks", "incomplete", "slurm_logs"))
    (dest / "config" / "config.yaml").write_text(yaml.safe_dump(tiny_config(training=training), sort_keys=False))
    for path in TRAINED:
        shutil.rmtree(dest / path, ignore_errors=True)
    proc = snakemake(dest, *targets)
    return proc.stdout + proc.stderr


def fold_files(root: Path) -> dict[str, bytes]:
    files = {}
    for pattern in FOLD_FILES:
        for path in sorted(root.glob(pattern)):
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def header(name: str, data: bytes) -> str:
    text = gzip.decompress(data) if name.endswith(".gz") else data
    return text.decode().split("\n", 1)[0]


def ran(log: str) -> list[str]:
    """The rules of the jobs a Snakemake run printed, one entry per job."""
    return re.findall(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):\s*$", log, flags=re.M)


@pytest.fixture(scope="module")
def tf_two(demo_run, tmp_path_factory):
    dest = tmp_path_factory.mktemp("folds_per_job") / "tf_two"
    return dest, retrain(demo_run, dest, {"folds_per_job": 2}, *COLLECT)


@pytest.fixture(scope="module")
def jax_all(demo_run, tmp_path_factory):
    dest = tmp_path_factory.mktemp("folds_per_job") / "jax_all"
    pytest.importorskip("jax")
    n_folds = tiny_config()["cv"]["folds"]
    retrains = [f"results/dnn/pretrain_dropout/selected/fold{k}/model.keras" for k in range(1, n_folds + 1)]
    return dest, retrain(demo_run, dest, {"backend": "jax", "folds_per_job": "all"}, *COLLECT, *retrains)


def test_tensorflow_chunks_write_the_single_fold_jobs_bytes(demo_run, tf_two):
    root, log = tf_two
    single, chunked = fold_files(demo_run), fold_files(root)
    cfg = tiny_config()
    n_ae = len(cfg["autoencoder"]["grid"]["learning_rate"]) * len(cfg["autoencoder"]["grid"]["decay"])
    n_dnn = len(cfg["dnn"]["grid"]["learning_rate"]) * len(cfg["dnn"]["grid"]["decay"])
    assert len(single) == cfg["cv"]["folds"] * (n_ae + 3 * (n_dnn + 2))
    assert chunked.keys() == single.keys()
    differ = [name for name in single if chunked[name] != single[name]]
    assert not differ, f"folds_per_job 2 changed {differ}"
    for name in ("results/dnn/selected.json", "results/autoencoder/selected.json",
                 "results/autoencoder/final/history.tsv", *COLLECT):
        assert (root / name).read_bytes() == (demo_run / name).read_bytes(), name
    # one job per configuration and run of folds (1-2, 3), its log and benchmark named after it
    jobs = ran(log)
    assert {r for r in jobs if "_folds" in r} == {
        f"{rule}_folds{run}" for rule in ("autoencoder_cv", "dnn_cv", "dnn_compare") for run in ("1to2", "3to3")}
    assert jobs.count("dnn_cv_folds1to2") == n_dnn and jobs.count("dnn_compare_folds3to3") == 2
    assert not {"autoencoder_cv", "dnn_cv", "dnn_compare"} & set(jobs)
    ae = "tanh_lr0.05_decay1e-05"
    for run in ("1to2", "3to3"):
        assert (root / f"results/logs/autoencoder_cv/{ae}/folds{run}.log").is_file()
        assert (root / f"results/benchmarks/autoencoder_cv/{ae}/folds{run}.tsv").is_file()
        assert (root / f"results/logs/dnn_compare/scratch/folds{run}.log").is_file()
        assert (root / f"results/benchmarks/dnn_cv/pretrain_dropout/lr0.1_decay0.0001/folds{run}.tsv").is_file()
    assert "training backend tensorflow" in (root / f"results/logs/autoencoder_cv/{ae}/folds1to2.log").read_text()


def test_jax_all_folds_per_job_writes_the_same_files_and_columns(demo_run, jax_all):
    root, log = jax_all
    single, batched = fold_files(demo_run), fold_files(root)
    assert batched.keys() == single.keys()
    for name in single:
        assert header(name, batched[name]) == header(name, single[name]), name
    jobs = ran(log)
    cfg = tiny_config()
    n_dnn = len(cfg["dnn"]["grid"]["learning_rate"]) * len(cfg["dnn"]["grid"]["decay"])
    assert jobs.count("autoencoder_cv_folds1to3") == 1 and jobs.count("dnn_cv_folds1to3") == n_dnn
    assert jobs.count("dnn_compare_folds1to3") == 2
    # the association stage's fold retrains (one fold per job, JAX) reproduced the CV jobs
    assert jobs.count("dnn_selected_fold_model") == cfg["cv"]["folds"]
    retrain_log = (root / "results/logs/dnn_selected_fold_model/fold1.log").read_text()
    assert "training backend jax" in retrain_log and "same model" in retrain_log
    assert "training backend jax" in (root / "results/logs/dnn_cv/pretrain_dropout/lr0.1_decay0.0001/"
                                              "folds1to3.log").read_text()
    # upstream of the networks nothing ran again
    assert not {"demo_cohort", "expression", "cohort", "patient_features", "collect_features"} & set(jobs)


def test_jax_same_config_twice_gives_the_same_files(jax_all, tmp_path):
    """The JAX CV jobs once more on a copy: the grid networks (on the kept autoencoder), then
    the autoencoder's (nothing downstream asked for): the same bytes."""
    first, _ = jax_all
    again = tmp_path / "again"
    shutil.copytree(first, again, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    redone = {}
    for pattern in ("results/dnn/pretrain_dropout/lr*/fold*/*", "results/autoencoder/cv/*/fold*/history.tsv"):
        paths = sorted(str(p.relative_to(again)) for p in again.glob(pattern))
        for path in paths:
            (again / path).unlink()
        log = snakemake(again, *paths)
        redone.update({path: (again / path).read_bytes() for path in paths})
        assert all("_folds1to3" in rule for rule in ran(log.stdout + log.stderr)), ran(log.stdout + log.stderr)
    cfg = tiny_config()
    n_dnn = len(cfg["dnn"]["grid"]["learning_rate"]) * len(cfg["dnn"]["grid"]["decay"])
    assert len(redone) == cfg["cv"]["folds"] * (1 + 3 * n_dnn)  # one autoencoder configuration
    differ = [path for path, data in redone.items() if (first / path).read_bytes() != data]
    assert not differ, f"the same config gave other bytes: {differ}"

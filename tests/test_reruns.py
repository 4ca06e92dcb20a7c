"""Partial reruns: change the config of a finished run and ask Snakemake what it would do.

Works on a copy of the ``demo_run`` fixture's directory (outputs and Snakemake's
metadata in .snakemake/), so the shared run is not disturbed. Each test writes a
changed config/config.yaml and runs ``snakemake --dry-run`` and ``--summary``; the jobs
Snakemake schedules come from its own rerun triggers (params, input, mtime, code:
workflow/profiles/default), which only work because every rule declares the config
values it uses as ``params``.

(``--list-changes params`` is not used: in Snakemake 9.27.1 it lists one output of
every job that has metadata, changed or not -- ``ParamsChange.__iter__`` yields the
files of an empty change.)

The last test switches ``selection.epoch`` to ``best`` on a copy of its own and runs the
jobs it plans, to check what they produce.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import snakemake, tiny_config
from radiogenomics import io, selection

pytestmark = pytest.mark.workflow

# Everything upstream of the networks: must never rerun when only training changes.
UPSTREAM = {"demo_cohort", "expression", "cohort", "patient_features", "collect_features"}
REPORT_RULES = {"plot_learning_curves", "plot_errors", "plot_associations", "write_summary"}


@pytest.fixture(scope="module")
def finished(demo_run, tmp_path_factory) -> Path:
    """A private copy of the finished tiny run (modification times preserved)."""
    dest = tmp_path_factory.mktemp("reruns") / "run"
    shutil.copytree(demo_run, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("locks", "incomplete", "slurm_logs"))
    return dest


@pytest.fixture
def run(finished):
    """The copy, with config/config.yaml restored to the tiny config after the test."""
    yield finished
    write_config(finished, tiny_config())


def write_config(root: Path, cfg: dict) -> None:
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def planned(root: Path, *extra: str) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job a dry run would execute."""
    return jobs_of(snakemake(root, "--dry-run", *extra))


def jobs_of(proc) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job a Snakemake run (or dry run) printed."""
    jobs, rule = [], None
    for line in proc.stdout.splitlines() + proc.stderr.splitlines():
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip())
        if m:
            rule = m.group(1)
            continue
        m = re.match(r"^\s+output: (.*)$", line)
        if m and rule is not None:
            jobs.append((rule, [o.strip() for o in m.group(1).split(",")]))
            rule = None
    if rule is not None:          # a job without outputs (the 'all' rule)
        jobs.append((rule, []))
    return jobs


def summary(root: Path) -> dict[str, tuple[str, str, str]]:
    """``snakemake --summary``: output file -> (rule, status, plan)."""
    rows = {}
    for line in snakemake(root, "--summary").stdout.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) >= 6:
            rows[cols[0]] = (cols[2], cols[-2], cols[-1])
    assert rows, "snakemake --summary printed nothing"
    return rows


def rules(jobs) -> Counter:
    return Counter(rule for rule, _ in jobs if rule != "all")


def test_nothing_changed_runs_nothing(run):
    jobs = planned(run)
    assert rules(jobs) == Counter(), f"a finished run would rerun: {rules(jobs)}"
    pending = {f: v for f, v in summary(run).items() if v[2] != "no update"}
    assert not pending, f"--summary plans updates of a finished run: {pending}"


def test_adding_a_learning_rate_runs_only_that_configuration(run):
    cfg = tiny_config()
    lrs = cfg["dnn"]["grid"]["learning_rate"]
    new_lr = 0.2
    assert new_lr not in lrs
    cfg["dnn"]["grid"]["learning_rate"] = [*lrs, new_lr]
    write_config(run, cfg)
    jobs = planned(run)
    counts = rules(jobs)
    folds = cfg["cv"]["folds"]
    decays = cfg["dnn"]["grid"]["decay"]
    new_configs = {f"lr{new_lr:g}_decay{float(d):g}" for d in decays}
    cv_jobs = [outs for rule, outs in jobs if rule == "dnn_cv"]
    cv_configs = Counter(re.search(r"/(lr[^/]+)/fold\d+/", o).group(1)
                         for outs in cv_jobs for o in outs[:1])
    assert cv_configs == Counter({c: folds for c in new_configs}), (
        f"expected {folds} dnn_cv jobs of {sorted(new_configs)} only, got {dict(cv_configs)}")
    assert counts["dnn_select"] == 1 and counts["evaluate"] == 1, f"no downstream aggregation: {counts}"
    assert not UPSTREAM & set(counts), f"upstream reruns: {counts}"
    untouched = {"autoencoder_cv", "autoencoder_select", "autoencoder_final", "baseline_fit"}
    assert not untouched & set(counts), f"unrelated stages rerun: {counts}"


def test_changing_epochs_reruns_training_not_feature_extraction(run):
    cfg = tiny_config()
    cfg["dnn"]["epochs"] = cfg["dnn"]["epochs"] + 1
    write_config(run, cfg)
    counts = rules(planned(run))
    n_configs = len(cfg["dnn"]["grid"]["learning_rate"]) * len(cfg["dnn"]["grid"]["decay"])
    assert counts["dnn_cv"] == n_configs * cfg["cv"]["folds"], counts
    assert counts["dnn_select"] == 1 and counts["evaluate"] == 1, counts
    assert not UPSTREAM & set(counts), f"feature extraction / cohort reruns: {counts}"
    assert not {"autoencoder_cv", "autoencoder_final", "baseline_fit"} & set(counts), counts
    plan = summary(run)
    cv = {f: v for f, v in plan.items() if v[0] == "dnn_cv"}
    assert cv and all(status == "params changed" for _, status, _ in cv.values()), cv
    upstream = {f: v for f, v in plan.items() if v[0] in UPSTREAM and v[2] != "no update"}
    assert not upstream, f"--summary plans updates upstream of the networks: {upstream}"

    cfg = tiny_config()
    cfg["autoencoder"]["epochs"] = cfg["autoencoder"]["epochs"] + 1
    write_config(run, cfg)
    counts = rules(planned(run))
    ae_configs = 1
    for values in cfg["autoencoder"]["grid"].values():
        ae_configs *= len(values)
    assert counts["autoencoder_cv"] == ae_configs * cfg["cv"]["folds"], counts
    assert counts["autoencoder_final"] == 1, counts
    assert counts["dnn_cv"] > 0, f"pre-trained networks must follow the autoencoder: {counts}"
    assert not UPSTREAM & set(counts), f"feature extraction / cohort reruns: {counts}"
    assert "baseline_fit" not in counts, counts


def test_changing_a_report_option_reruns_only_the_report(run):
    cfg = tiny_config()
    cfg["report"] = dict(cfg.get("report", {}), title="Another title")
    write_config(run, cfg)
    counts = rules(planned(run))
    assert counts == Counter({"write_summary": 1}), f"changing report.title runs {counts}"

    cfg["report"]["figure_dpi"] = cfg["report"].get("figure_dpi", 60) + 10
    write_config(run, cfg)
    counts = rules(planned(run))
    assert {"plot_learning_curves", "plot_errors"} <= set(counts), counts
    assert set(counts) <= REPORT_RULES, f"report.figure_dpi reruns non-report jobs: {counts}"


def test_training_backend_and_folds_per_job_rerun_training_not_feature_extraction(run):
    """Both keys are params of the training rules: training.backend changes the numbers,
    training.folds_per_job the jobs that write the same fold files."""
    cfg = tiny_config(training={"backend": "jax"})
    write_config(run, cfg)
    counts = rules(planned(run))
    folds = cfg["cv"]["folds"]
    n_dnn = len(cfg["dnn"]["grid"]["learning_rate"]) * len(cfg["dnn"]["grid"]["decay"])
    for rule, n in {"autoencoder_cv": folds, "autoencoder_final": 1, "dnn_cv": n_dnn * folds,
                    "dnn_compare": 2 * folds, "dnn_selected_fold_model": folds, "dnn_final_model": 1}.items():
        assert counts[rule] == n, (rule, counts)
    assert not UPSTREAM & set(counts), f"upstream reruns: {counts}"

    cfg = tiny_config(training={"folds_per_job": 2})
    write_config(run, cfg)
    counts = rules(planned(run))
    assert counts["autoencoder_cv_folds1to2"] == counts["autoencoder_cv_folds3to3"] == 1, counts
    assert counts["dnn_cv_folds1to2"] == counts["dnn_cv_folds3to3"] == n_dnn, counts
    assert not {"autoencoder_cv", "dnn_cv", "dnn_compare"} & set(counts), counts
    assert not UPSTREAM & set(counts), f"upstream reruns: {counts}"


def test_best_epoch_reruns_only_the_selection_onwards_and_judges_at_that_epoch(demo_run, tmp_path):
    """selection.epoch: best on a private copy of the finished run: no network is retrained
    (every fold job wrote its validation predictions at every epoch), and the networks'
    out-of-fold predictions are those of the epoch with the lowest mean validation loss."""
    root = tmp_path / "run"
    shutil.copytree(demo_run, root, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    before = io.read_json(root / "results/dnn/selected.json")
    cfg = tiny_config(selection={"epoch": "best"})
    write_config(root, cfg)
    counts = rules(jobs_of(snakemake(root, "results/summary.md")))
    chosen = io.read_json(root / "results/dnn/selected.json")
    assert counts["dnn_select"] == 1 and counts["dnn_collect"] == 3 and counts["evaluate"] == 1, counts
    trained = {"dnn_cv", "autoencoder_cv", "autoencoder_final", "baseline_fit"}
    assert not (trained | UPSTREAM) & set(counts), f"switching the epoch rule retrains: {counts}"
    # the comparison networks are retrained only if the best epoch is in another configuration
    assert ("dnn_compare" in counts) == (chosen["config"] != before["config"]), (counts, before, chosen)

    grid = io.read_tsv(root / "results/dnn/selection.tsv")
    folds = io.read_tsv(root / "results/cohort/folds.tsv")["fold"].astype(int)
    curves = {}
    for name in grid.index:
        hist = [io.read_tsv(root / f"results/dnn/pretrain_dropout/{name}/fold{k}/history.tsv", index_col=None)
                for k in sorted(set(folds))]
        curves[name] = np.mean([h["val_loss"].to_numpy() for h in hist], axis=0)
    best = min(curves, key=lambda c: curves[c].min())
    assert chosen["config"] == best and chosen["epoch"] == int(np.argmin(curves[best])) + 1
    assert chosen["mean_val_loss"] == pytest.approx(curves[best].min())
    # every variant is judged by its predictions at that epoch
    for variant, job in (("pretrain_dropout", best), ("scratch", "selected"), ("pretrain", "selected")):
        oof = io.read_tsv(root / f"results/dnn/{variant}/oof.tsv")
        for k in sorted(set(folds)):
            part = selection.read_epoch_predictions(
                root / f"results/dnn/{variant}/{job}/fold{k}/val_predictions.tsv.gz", chosen["epoch"])
            pd.testing.assert_frame_equal(oof.loc[part.index], part, check_names=False, check_dtype=False)
    md = (root / "results/summary.md").read_text()
    assert "optimistic" in md

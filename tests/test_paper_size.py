"""The whole workflow at the paper's sizes, on a generated cohort of the paper's shape.

``config/paper.yaml`` (528 patients × 12,042 genes, 109 imaged, 240 × 240 × 155 label maps,
the paper's layer sizes) with everything that only multiplies work cut down so that it
fits CI: one configuration per grid, 2 folds, 1 epoch, a 3 × 10 elastic-net grid and
minimal association settings. Every stage runs at full data and model size, so this
catches what only breaks at size (memory, dimensions, the per-patient fan-out of 109
segmentations). Checks: every stage's output exists with the paper's dimensions, and each
training job's peak memory (``max_rss`` of its ``benchmark:`` file) is below the
``mem_mb`` its rule requested (``training_resources`` in workflow/rules/common.smk).

Run alone: ``pytest tests/test_paper_size.py`` (about 8 minutes on 2 cores, most of it
the 109 feature jobs and the paper-size training jobs).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake, workflow_dir

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

N_PATIENTS, N_GENES, N_IMAGED = 528, 12042, 109
TRAINING_RULES = {"autoencoder_cv", "autoencoder_final", "dnn_cv", "dnn_compare",
                  "dnn_selected_fold_model", "dnn_final_model"}


def paper_size_config() -> dict:
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    assert (cfg["demo"]["n_patients"], cfg["demo"]["n_genes"], cfg["demo"]["n_imaged"]) == \
        (N_PATIENTS, N_GENES, N_IMAGED)
    assert cfg["demo"]["shape"] == [240, 240, 155]
    cfg["cv"]["folds"] = 2
    cfg["autoencoder"]["epochs"] = 1
    cfg["autoencoder"]["grid"] = {"learning_rate": [0.01], "decay": [1.0e-4], "activation": ["tanh"]}
    cfg["dnn"]["epochs"] = 1
    cfg["dnn"]["grid"] = {"learning_rate": [0.05], "decay": [1.0e-4]}
    cfg["baseline"].update(l1_ratios=3, n_lambdas=10)
    cfg["training"]["threads"] = 1
    cfg["associations"].update(ig_steps=2, masking_sizes=[1], masking_random=1, am_steps=2)
    cfg["report"]["figure_dpi"] = 50
    return cfg


def job_blocks(text: str) -> list[dict]:
    """rule, benchmark path and requested mem_mb of every job Snakemake started."""
    jobs = []
    for block in re.split(r"\n\s*\n", text):
        head = re.search(r"^(?:local)?(?:rule|checkpoint) (\w+):", block, re.M)
        if not head:
            continue
        fields = dict(re.findall(r"^\s+(\w+): (.*)$", block, re.M))
        resources = dict(item.split("=", 1) for item in fields.get("resources", "").split(", ") if "=" in item)
        jobs.append({"rule": head.group(1), "benchmark": fields.get("benchmark"),
                     "mem_mb": resources.get("mem_mb")})
    return jobs


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    root = workflow_dir(tmp_path_factory.mktemp("paper_size"), paper_size_config())
    proc = snakemake(root, timeout=2400)
    return root, proc.stdout + proc.stderr


def read(root, path, **kwargs):
    return pd.read_csv(root / path, sep="\t", **kwargs)


def test_every_stage_has_the_papers_dimensions(paper_run):
    root, _ = paper_run
    expr = read(root, "results/expression/expression.tsv", index_col=0)
    assert expr.shape == (N_PATIENTS, N_GENES)
    features = read(root, "results/features/features.tsv", index_col=0)
    missing = read(root, "results/features/missing.tsv", index_col=0)
    assert len(features) + len(missing) == N_IMAGED and features.shape[1] == 20
    assert len([d for d in (root / "resources/demo/segmentations").iterdir() if d.is_dir()]) == N_IMAGED
    inventory = read(root, "results/features/segmentation_files.tsv", keep_default_na=False)
    assert inventory["used"].sum() == N_IMAGED
    manifest = read(root, "results/cohort/patients.tsv", index_col=0, keep_default_na=False)
    supervised = manifest.index[manifest["supervised"]]
    assert len(supervised) == len(features)
    assert read(root, "results/cohort/folds.tsv", index_col=0).shape[0] == len(supervised)
    assert read(root, "results/autoencoder/folds.tsv", index_col=0).shape[0] == N_PATIENTS
    for variant in ("scratch", "pretrain", "pretrain_dropout"):
        oof = read(root, f"results/dnn/{variant}/oof.tsv", index_col=0)
        assert oof.shape == (len(supervised), 20), (variant, oof.shape)
    base = read(root, "results/baseline/oof.tsv", index_col=0)
    assert base.shape == (len(supervised), 20)
    coefs = read(root, "results/baseline/enhancing_volume/coefficients.tsv", index_col=0)
    assert len(coefs) >= N_GENES
    per_feature = read(root, "results/evaluation/per_feature.tsv")
    assert set(per_feature["feature"]) == set(features.columns)
    for table in ("table2", "table3", "table4"):
        assert len(read(root, f"results/evaluation/{table}.tsv")) > 0
    attributions = read(root, "results/associations/attributions.tsv", index_col=0)
    assert attributions.shape[0] == N_GENES
    for path in ("results/summary.md", "results/figures/figure2_learning_curves.png",
                 "results/figures/figure3_errors.png", "results/figures/associations_heatmap.png",
                 "results/autoencoder/final/model.keras"):
        assert (root / path).stat().st_size > 0, path


def test_training_jobs_stay_below_their_requested_memory(paper_run):
    root, log = paper_run
    checked = {}
    for job in job_blocks(log):
        if job["rule"] not in TRAINING_RULES:
            continue
        assert job["benchmark"] and job["mem_mb"], job
        bench = read(root, job["benchmark"])
        peak = float(bench["max_rss"].iloc[0])
        requested = int(job["mem_mb"])
        assert peak < requested, f"{job['rule']} ({job['benchmark']}): peak {peak:.0f} MB >= mem_mb {requested}"
        checked.setdefault(job["rule"], []).append((peak, requested))
    assert set(checked) == TRAINING_RULES, checked
    print({rule: [f"{p:.0f}/{r} MB" for p, r in v] for rule, v in checked.items()})

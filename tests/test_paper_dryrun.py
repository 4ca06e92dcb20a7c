"""Dry run of config/paper.yaml: the paper's grids become exactly the expected GPU jobs.

Paper §2.2.2/§2.2.3/§2.4: 5 learning rates x 4 decays x 2 activations = 40 autoencoder
configurations x 10 folds = 400 jobs, 1 retraining; 18 x 5 = 90 network configurations
x 10 folds = 900 jobs, plus 2 comparison networks x 10 folds = 20. With training.folds_per_job:
all (and backend: jax, the GPU path) one job trains all 10 folds of a configuration: 40 + 1
autoencoder and 90 + 2 network training jobs. (The demo cohort's checkpoint hides the
per-patient feature jobs in a dry run; they are not counted here.)
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import yaml

from conftest import REPO, snakemake, workflow_dir

pytestmark = pytest.mark.workflow

EXPECTED = {"autoencoder_cv": 400, "autoencoder_final": 1, "dnn_cv": 900, "dnn_compare": 20}


def parse_jobs(text: str) -> dict[str, dict[str, dict]]:
    """rule -> jobid -> {"output": str, "wildcards": str, "resources": {key: value}} from a dry run."""
    jobs: dict[str, dict[str, dict]] = defaultdict(dict)
    for block in re.split(r"\n\s*\n", text):
        head = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        jobid = re.search(r"^\s+jobid: (\d+)", block, re.M)
        if not head or not jobid:
            continue
        fields = dict(re.findall(r"^\s+(\w+): (.*)$", block, re.M))
        resources = dict(item.split("=", 1) for item in fields.get("resources", "").split(", ") if "=" in item)
        jobs[head.group(1)][jobid.group(1)] = {
            "output": fields.get("output", ""), "wildcards": fields.get("wildcards", ""), "resources": resources,
        }
    return jobs


def job_stats(text: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture(scope="module")
def paper_dryrun(tmp_path_factory):
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    root = workflow_dir(tmp_path_factory.mktemp("paper_dryrun"), config)
    proc = snakemake(root, "-n", timeout=900)
    return proc.stdout + proc.stderr


def test_paper_grid_job_counts(paper_dryrun):
    jobs = parse_jobs(paper_dryrun)
    stats = job_stats(paper_dryrun)
    for rule, count in EXPECTED.items():
        assert len(jobs[rule]) == count, (rule, len(jobs[rule]))
        assert stats[rule] == count, (rule, stats.get(rule))
    # one job per (configuration, fold): all outputs distinct, paths name the hyperparameters
    ae = {job["output"] for job in jobs["autoencoder_cv"].values()}
    assert len(ae) == 400
    configs = {re.search(r"cv/([^/]+)/fold", out).group(1) for out in ae}
    assert len(configs) == 40 and "tanh_lr0.2_decay1e-05" in configs
    dnn = {re.search(r"pretrain_dropout/([^/]+)/fold(\d+)/", job["output"]).groups()
           for job in jobs["dnn_cv"].values()}
    assert len(dnn) == 900 and len({c for c, _ in dnn}) == 90 and ("lr0.3_decay5e-05", "10") in dnn
    compare = {re.search(r"results/dnn/(\w+)/selected/fold(\d+)/", job["output"]).groups()
               for job in jobs["dnn_compare"].values()}
    assert {v for v, _ in compare} == {"scratch", "pretrain"} and len(compare) == 20
    assert stats["autoencoder_select"] == stats["dnn_select"] == 1
    assert stats["dnn_collect"] == 3


def test_paper_training_jobs_request_one_gpu(paper_dryrun):
    jobs = parse_jobs(paper_dryrun)
    for rule in EXPECTED:
        for jobid, job in jobs[rule].items():
            res = job["resources"]
            assert res.get("gpu") == "1", (rule, jobid, res)
            assert int(res["mem_mb"]) > 0 and int(res["runtime"]) > 0, (rule, jobid, res)
    # memory scales with the models: a network job holds its 27M-parameter network and loads
    # the 53M-parameter autoencoder, so it needs more than an autoencoder job (measured at
    # the paper's sizes: tests/test_paper_size.py)
    ae_mem = {int(j["resources"]["mem_mb"]) for j in jobs["autoencoder_cv"].values()}
    dnn_mem = {int(j["resources"]["mem_mb"]) for j in jobs["dnn_cv"].values()}
    assert min(dnn_mem) > max(ae_mem)
    # selection and collection are not GPU jobs
    for rule in ("autoencoder_select", "dnn_select", "dnn_collect"):
        assert all("gpu" not in j["resources"] for j in jobs[rule].values()), rule



#: training.folds_per_job: all -- one job per configuration trains its 10 folds
BATCHED = {"autoencoder_cv_folds1to10": 40, "autoencoder_final": 1, "dnn_cv_folds1to10": 90,
           "dnn_compare_folds1to10": 2}


@pytest.fixture(scope="module")
def paper_batched_dryrun(tmp_path_factory):
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    config["training"].update(backend="jax", folds_per_job="all")
    root = workflow_dir(tmp_path_factory.mktemp("paper_batched_dryrun"), config)
    proc = snakemake(root, "-n", timeout=900)
    return proc.stdout + proc.stderr


def test_paper_grid_with_all_folds_per_job_is_one_gpu_job_per_configuration(paper_dryrun, paper_batched_dryrun):
    jobs = parse_jobs(paper_batched_dryrun)
    stats = job_stats(paper_batched_dryrun)
    for rule in ("autoencoder_cv", "dnn_cv", "dnn_compare"):
        assert rule not in jobs and rule not in stats, rule
    for rule, count in BATCHED.items():
        assert len(jobs[rule]) == count and stats[rule] == count, (rule, len(jobs[rule]), stats.get(rule))
        for jobid, job in jobs[rule].items():
            assert job["resources"].get("gpu") == "1", (rule, jobid, job["resources"])
    # every fold's files at the paths of one fold per job: the same 400 + 900 + 20 fold outputs
    single = parse_jobs(paper_dryrun)

    def outputs(parsed, rules):
        return {o.strip() for rule in rules for job in parsed[rule].values() for o in job["output"].split(",")}

    for one, batched in (("autoencoder_cv", "autoencoder_cv_folds1to10"), ("dnn_cv", "dnn_cv_folds1to10"),
                         ("dnn_compare", "dnn_compare_folds1to10")):
        assert outputs(jobs, [batched]) == outputs(single, [one]), one
    assert len(outputs(jobs, ["autoencoder_cv_folds1to10"])) == 400
    # a job of 10 folds holds 10 models' training state (the data once)
    ae_one = {int(j["resources"]["mem_mb"]) for j in single["autoencoder_cv"].values()}
    ae_ten = {int(j["resources"]["mem_mb"]) for j in jobs["autoencoder_cv_folds1to10"].values()}
    assert min(ae_ten) > 3 * max(ae_one)
    assert stats["autoencoder_select"] == stats["dnn_select"] == 1 and stats["dnn_collect"] == 3


def test_adding_a_grid_value_runs_only_its_jobs(demo_run, tmp_path):
    """After a complete run, a new autoencoder learning rate runs that configuration's fold
    jobs and the selection; when the choice does not change, the retrained autoencoder
    (and so every network job) is kept. The selection is a checkpoint: a dry run cannot
    know the choice in advance and lists the retraining; the real run drops it."""
    import os
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(demo_run, root, symlinks=True)  # copy2: keeps mtimes and .snakemake metadata
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    config["autoencoder"]["grid"]["learning_rate"].append(20.0)  # diverges: cannot win
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    model = root / "results/autoencoder/final/model.keras"
    before = os.stat(model).st_mtime_ns
    chosen = (root / "results/autoencoder/selected.json").read_text()
    proc = snakemake(root, "results/autoencoder/final/model.keras")
    ran = re.findall(r"Rule: (\w+)\)", proc.stdout + proc.stderr)
    folds = int(config["cv"]["folds"])
    n_new = folds * len(config["autoencoder"]["grid"]["activation"]) * len(config["autoencoder"]["grid"]["decay"])
    assert sorted(ran) == sorted(["autoencoder_cv"] * n_new + ["autoencoder_select"]), ran
    assert (root / "results/autoencoder/selected.json").read_text() == chosen
    assert os.stat(model).st_mtime_ns == before
    dry = snakemake(root, "-n")
    jobs = parse_jobs(dry.stdout + dry.stderr)
    for rule in ("autoencoder_cv", "autoencoder_final", "dnn_cv", "dnn_compare"):
        assert not jobs.get(rule), (rule, dry.stdout[-3000:])

"""radiogenomics.job_resources: the training jobs' memory and run-time requests."""

from radiogenomics import job_resources as jr
from radiogenomics import models

PAPER = dict(n_genes=12042, n_patients=528, hidden=[2000, 1000, 500, 1000, 2000], hidden4=100,
             n_outputs=20, epochs=200, batch_size=10)


def test_autoencoder_request_at_paper_size_by_hand():
    # Weights + biases of 12042-2000-1000-500-1000-2000-12042, counted by hand.
    params = (12042 * 2000 + 2000) + (2000 * 1000 + 1000) + (1000 * 500 + 500) \
        + (500 * 1000 + 1000) + (1000 * 2000 + 2000) + (2000 * 12042 + 12042)
    got = jr.training_job("autoencoder", **PAPER)
    assert got["mem_mb"] == int(1500 + (12 * params + 8 * 528 * 12042) / 2**20)
    steps = 200 * (528 // 10 + 1)
    assert got["runtime"] == int(steps * params * 6 / 0.5e9 / 60) + 5
    assert got["gpu"] == 1


def test_network_request_counts_the_loaded_autoencoder():
    net = (12042 * 2000 + 2000) + (2000 * 1000 + 1000) + (1000 * 500 + 500) \
        + (500 * 100 + 100) + (100 * 20 + 20)
    ae = models.parameter_count(models.autoencoder_sizes(12042, PAPER["hidden"]))
    got = jr.training_job("dnn", **PAPER)
    assert got["mem_mb"] == int(1500 + (12 * net + 12 * ae + 8 * 528 * 12042) / 2**20)
    # Fewer outputs, fewer parameters: the request follows the feature columns.
    assert jr.training_job("dnn", **dict(PAPER, n_outputs=7))["mem_mb"] <= got["mem_mb"]


def test_tiny_jobs_get_the_minimum_runtime_and_attribution_adds_its_share():
    tiny = jr.training_job("dnn", n_genes=50, n_patients=30, hidden=[8, 4, 8], hidden4=3,
                           n_outputs=20, epochs=5, batch_size=10)
    assert tiny["runtime"] == jr.MIN_RUNTIME_MIN
    both = jr.attribution_job(tiny)
    assert both["mem_mb"] == tiny["mem_mb"] + jr.ATTRIBUTION_EXTRA_MB
    assert both["runtime"] == tiny["runtime"] + jr.ATTRIBUTION_EXTRA_MIN


def test_matrix_shape_reads_the_ingested_matrix(tmp_path):
    path = tmp_path / "expression.tsv"
    assert jr.matrix_shape(path) is None
    path.write_text("patient\tA\tB\tC\nP1\t1\t2\t3\nP2\t4\t5\t6\n")
    assert jr.matrix_shape(path) == (2, 3)
    path.write_text("patient\tA\tB\tC\nP1\t1\t2\t3\nP2\t4\t5\t6\nP3\t7\t8\t9\n")
    assert jr.matrix_shape(path) == (3, 3)

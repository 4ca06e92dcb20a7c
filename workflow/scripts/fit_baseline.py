"""Rule baseline_fit: elastic net for one image feature (paper §2.3, §2.4)."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])  # noqa: F821

from radiogenomics import baseline  # noqa: E402

inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
baseline.run_feature(
    expression_path=inp.expression,
    features_path=inp.features,
    folds_path=inp.folds,
    feature=snakemake.wildcards.feature,  # noqa: F821
    l1_ratios=params.l1_ratios,
    n_lambdas=params.n_lambdas,
    lambda_min_ratio=params.lambda_min_ratio,
    standardize=params.standardize,
    solver=params.solver,
    oof_path=out.oof,
    coefficients_path=out.coefficients,
    selection_path=out.selection,
)

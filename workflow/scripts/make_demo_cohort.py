"""Rule demo_cohort: write the generated demo cohort (radiogenomics.demo.generate)."""
from pathlib import Path

from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from radiogenomics import demo  # noqa: E402
from radiogenomics.errors import RadiogenomicsError  # noqa: E402

out_dir = Path(snakemake.output.truth).parent
for key in ("expression", "segmentations"):
    if Path(snakemake.output[key]).resolve() != (out_dir / key).resolve():
        raise RadiogenomicsError(f"data.{key} must be {out_dir / key} while demo.enabled is true")
p = snakemake.params
summary = demo.generate(
    out_dir,
    n_patients=p.n_patients,
    n_imaged=p.n_imaged,
    n_genes=p.n_genes,
    n_signal_genes=p.n_signal_genes,
    n_duplicate_aliquots=p.n_duplicate_aliquots,
    n_non_primary=p.n_non_primary,
    shape=p.shape,
    spacing=p.spacing,
    seed=p.seed,
)
log.info("demo cohort in %s: %s", out_dir, summary)

"""results/summary.md (this run's Tables 2-4 beside the paper's numbers) and the report's
HTML pages: Tables 2-4, the selected hyperparameters of every model, the cohort."""
from radiogenomics import runlog

log = runlog.setup(snakemake.log[0])

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from radiogenomics import io, names, summary  # noqa: E402

inp, out, params = snakemake.input, snakemake.output, snakemake.params

tables = {name: io.read_tsv(inp[name]) for name in ("table2", "table3", "table4")}
tables["differences"] = io.read_tsv(inp.differences, index_col=None)
losses = io.read_tsv(inp.losses)
ae_selected = io.read_json(inp.ae_selected)
dnn_selected = io.read_json(inp.dnn_selected)
patients = io.read_tsv(inp.patients)
demo = bool(params.demo)
# averages over the features compare with the paper's only over the paper's 20 features
paper_set = names.is_paper_feature_set(params.features)
note = summary.CELL_NOTE + (" Demo run: a generated cohort; the paper's numbers are not expected to match."
                            if demo else "")

io.write_text(
    summary.summary_markdown(tables, losses=losses, ae_selected=ae_selected, dnn_selected=dnn_selected,
                             patients=patients, title=params.title, demo=demo, epoch=params.epoch,
                             features_table=params.features_table),
    out.markdown,
)
io.write_text(summary.landing_page(Path(inp.landing_template).read_text(), summary.verdict_lines(tables, params.epoch),
                                  features=list(params.features), features_table=params.features_table),
              out.landing)
io.write_text(summary.html_page("Table 2. Overall performance",
                                [(None, summary.table2_display(tables["table2"], with_paper=paper_set)),
                                 ("Differences of the average errors (negative: lower error)",
                                  summary.differences_display(tables["differences"]))], note), out.table2)
io.write_text(summary.html_page("Table 3. MAE in original units",
                                [(None, summary.table3_display(tables["table3"]))], note), out.table3)
io.write_text(summary.html_page("Table 4. Mean absolute percent error (%)",
                                [(None, summary.table4_display(tables["table4"]))], note), out.table4)

settings = pd.DataFrame(
    [{"model": model, "setting": key, "value": str(value)} for model, section in params.settings.items()
     for key, value in section.items()]
)
io.write_text(
    summary.html_page(
        "Selected hyperparameters of every model",
        [
            ("Selected by cross-validation (this run (paper))",
             summary.selected_display(ae_selected, dnn_selected)),
            ("Final losses of the selected configurations (mean ± s.d. over folds)",
             summary.losses_display(losses, with_paper=paper_set)),
            ("Autoencoder grid (mean final-epoch validation loss over folds)", io.read_tsv(inp.ae_selection)),
            ("Network grid (pre-training + dropout; mean validation MAE over folds at the "
             + ("final epoch)" if params.epoch == "final" else "best epoch of each configuration: optimistic)"),
             io.read_tsv(inp.dnn_selection)),
            ("Elastic net: selected α (L1 ratio) and λ per feature", io.read_tsv(inp.baseline_selection)),
            ("Fixed settings (configuration)", settings),
        ],
        "The networks without pre-training and with pre-training (no dropout) use the "
        "hyperparameters selected for the network with pre-training and dropout (paper §2.4).",
    ),
    out.models,
)

cohort_sections = [("Patients", summary.cohort_display(patients, n_features=len(params.features),
                                                            features_table=params.features_table))]
if "note" in patients.columns:
    notes = patients["note"].fillna("").astype(str)
    counts = notes[notes != ""].value_counts().rename_axis("note").rename("patients").to_frame()
    if len(counts):
        cohort_sections.append(("Notes (why patients are not supervised)", counts))
cohort_sections.append(("Expression quality control", io.read_tsv(inp.qc)))
io.write_text(summary.html_page("Cohort", cohort_sections, "Paper: 528 expression profiles, "
                                "109 patients with expression and segmented pre-operative MR."), out.cohort)
log.info("wrote %s and the report pages", out.markdown)

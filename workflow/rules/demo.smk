# demo stage: generate the demo cohort (TCGA Level-3 expression files, BraTS-style
# segmentations and the planted signal) when demo.enabled is true. The checkpoint's
# outputs are exactly data.expression and data.segmentations, so the rest of the
# workflow reads the demo cohort through the same paths as real data.
# Nothing is defined when demo.enabled is false.

if config["demo"]["enabled"]:
    _DEMO_DIR = "resources/demo"
    _wrong_demo_keys = [
        f"data.{key}"
        for key in ("expression", "segmentations")
        if os.path.abspath(config["data"][key]) != os.path.abspath(f"{_DEMO_DIR}/{key}")
    ]
    if _wrong_demo_keys:
        raise WorkflowError(
            "demo.enabled is true, so the demo cohort is generated into "
            f"{_DEMO_DIR}/expression and {_DEMO_DIR}/segmentations, but "
            + ", ".join(
                f"{k} = {config['data'][k.split('.')[1]]!r}" for k in _wrong_demo_keys
            )
            + f". Set {' and '.join(_wrong_demo_keys)} to the {_DEMO_DIR} paths, "
            "or set demo.enabled: false to use your own data."
        )

    checkpoint demo_cohort:
        output:
            expression=directory(config["data"]["expression"]),
            segmentations=directory(config["data"]["segmentations"]),
            truth=directory(f"{_DEMO_DIR}/truth"),
        log:
            "results/logs/demo_cohort.log",
        conda:
            "../envs/imaging.yaml"
        params:
            n_patients=config["demo"]["n_patients"],
            n_imaged=config["demo"]["n_imaged"],
            n_genes=config["demo"]["n_genes"],
            n_signal_genes=config["demo"]["n_signal_genes"],
            n_duplicate_aliquots=config["demo"]["n_duplicate_aliquots"],
            n_non_primary=config["demo"]["n_non_primary"],
            shape=config["demo"]["shape"],
            spacing=config["demo"]["spacing"],
            seed=SEED,
        script:
            "../scripts/make_demo_cohort.py"

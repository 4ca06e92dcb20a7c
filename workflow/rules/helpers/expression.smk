# Input functions and helpers of the expression stage (workflow/rules/expression.smk).


def expression_inputs(wildcards):
    """The expression files themselves, not their directory (whose time stamp does not
    change when a file in it is edited): an edited, added or removed file reruns ingestion.
    For the demo, after the demo_cohort checkpoint has written them."""
    from radiogenomics.io import input_files

    if is_demo():
        checkpoints.demo_cohort.get()
    return input_files(config["data"]["expression"], config["data"]["sample_sheet"])

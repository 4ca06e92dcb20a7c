# Input functions and helpers of the evaluation stage (workflow/rules/evaluation.smk).


EVAL_REFERENCE = _names.REFERENCE


EVAL_NETWORK = _names.GRID_NETWORK  # the network of Figure 3 (the grid-searched one)


def _report_dpi():
    return int(config["report"]["figure_dpi"])

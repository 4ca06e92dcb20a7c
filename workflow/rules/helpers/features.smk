# Input functions and helpers of the features stage (workflow/rules/features.smk).


def segmentation_dir():
    return config["data"]["segmentations"]


# Segmentation discovery walks the whole folder (and reads data.patient_map): done once per
# Snakemake invocation, not once per patient job (at 528 patients in the TCIA tree this
# took a dry run of the features stage from 26 s to 5 s).
_SEGMENTATIONS = {}


def segmentation_files():
    """Patient ID -> segmentation path, after the demo cohort exists (checkpoint)."""
    from radiogenomics.cohort import find_segmentations, patient_map_from

    if is_demo():
        checkpoints.demo_cohort.get()
    if "files" not in _SEGMENTATIONS:
        data = config["data"]
        _SEGMENTATIONS["files"] = find_segmentations(
            segmentation_dir(),
            data["segmentation_glob"],
            data["patient_regex"],
            data["prefer_segmentation"],
            patient_map=patient_map_from(data["patient_map"]),
        )
    return _SEGMENTATIONS["files"]


def segmentation_folder_files(wildcards):
    """Every file in the segmentation folder (the inventory lists them all, read or not), so
    that adding, removing or editing any file there updates the inventory."""
    from radiogenomics.io import input_files

    segmentation_files()  # after the demo checkpoint; stops on a bad folder
    spec = config["data"]["patient_map"]
    return input_files(segmentation_dir(), spec["file"] if spec else None)


def patient_feature_files(wildcards):
    return [f"results/features/{p}.tsv" for p in sorted(segmentation_files())]


def segmentation_of(wildcards):
    return segmentation_files()[wildcards.patient]

"""The 20 morphological image features of the paper (§2.1.2, Table 1).

Ten shape features for each region of interest (enhancing tumour, peritumoral edema), in
two conventions (``features.convention``: ``paper``, what the paper's MATLAB code
computed, or ``ibsi``, PyRadiomics' definitions). Modules:

* ``shape``: the 10 shape features of one region, each with its formula (the table of
  names, units and definitions, and both conventions).
* ``masks``: the region's largest connected component, cropped; too small counts as
  missing (``features.min_voxels``).
* ``segmentation``: a segmentation file read and checked (label values, voxel spacing,
  axial axis), and the 20 features of one patient.
* ``ranges``: the documented range of each feature and the values outside it.
* ``tables``: per-patient rows, the cohort table, and its scaling by the cohort maximum.
"""

from .masks import MIN_VOXELS, largest_component
from .ranges import SPHERICITY_SLACK, missing_regions, range_table, range_violations
from .segmentation import axial_axis_of, load_segmentation, patient_features, patient_features_and_sizes
from .shape import CONVENTIONS, CROFTON_DIRECTIONS, crofton_surface_area, crofton_weights, mesh_volume_area, \
    missing_features, roi_features, slice_ellipse_axes
from .tables import SIZE_COLUMNS, collect, patient_table, read_patient_tables, scale_by_max

__all__ = [
    "CONVENTIONS", "CROFTON_DIRECTIONS", "MIN_VOXELS", "SIZE_COLUMNS", "SPHERICITY_SLACK", "axial_axis_of",
    "collect", "crofton_surface_area", "crofton_weights", "largest_component", "load_segmentation",
    "mesh_volume_area", "missing_features", "missing_regions", "patient_features", "patient_features_and_sizes",
    "patient_table", "range_table", "range_violations", "read_patient_tables", "roi_features", "scale_by_max",
    "slice_ellipse_axes",
]

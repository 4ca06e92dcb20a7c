"""The hidden factors of the demo cohort, and what they drive.

Every patient has four hidden standard-normal factors (:data:`FACTORS`): ``size``
(enhancing-tumour volume), ``irregularity`` (lobulation of the tumour surface), ``edema``
(edema volume) and ``necrosis`` (necrotic fraction of the core, so the thinness of the
enhancing rim). They drive the planted expression signal (``demo.expression``) and the
tumour geometry (``demo.tumours``).
"""

#: Hidden per-patient factors (standard normal) that drive genes and geometry.
FACTORS = ("size", "irregularity", "edema", "necrosis")

#: (factor, image feature, direction of the effect) — what drives what. Measured, not guessed:
#: the geometry model couples the factors to the 20 features in ways that are hard to read
#: off the formulas (a thinner rim, from ``necrosis``, makes the enhancing region less
#: spherical; a larger core pushes the edema shell into a thinner, less spherical shape;
#: lobulation lengthens the longest chord and shortens the minor axis). A pair is listed when
#: the Pearson correlation between the factor and the feature (paper convention) has
#: |r| >= 0.4 with the same sign in two generated cohorts (seed 2018; 44 and 64 imaged
#: patients at 240 x 240 x 155). tests/test_demo_associations.py re-checks the direction on
#: the built-in demo cohort.
DRIVES = (
    ("size", "enhancing_volume", +1),
    ("size", "enhancing_surface_area", +1),
    ("size", "enhancing_sa_v_ratio", -1),
    ("size", "enhancing_max_diameter", +1),
    ("size", "enhancing_major_axis", +1),
    ("size", "enhancing_minor_axis", +1),
    ("size", "edema_surface_area", +1),
    ("size", "edema_sphericity", -1),
    ("size", "edema_spherical_disproportion", +1),
    ("size", "edema_max_diameter", +1),
    ("size", "edema_major_axis", +1),
    ("size", "edema_minor_axis", +1),
    ("size", "edema_compactness1", -1),
    ("size", "edema_compactness2", -1),
    ("irregularity", "enhancing_sphericity", -1),
    ("irregularity", "enhancing_max_diameter", +1),
    ("irregularity", "enhancing_minor_axis", -1),
    ("irregularity", "enhancing_compactness1", -1),
    ("irregularity", "enhancing_compactness2", -1),
    ("irregularity", "edema_max_diameter", +1),
    ("irregularity", "edema_minor_axis", -1),
    ("edema", "edema_volume", +1),
    ("edema", "edema_sa_v_ratio", -1),
    ("edema", "edema_sphericity", +1),
    ("edema", "edema_spherical_disproportion", -1),
    ("edema", "edema_max_diameter", +1),
    ("edema", "edema_compactness1", +1),
    ("edema", "edema_compactness2", +1),
    ("necrosis", "enhancing_sa_v_ratio", +1),
    ("necrosis", "enhancing_sphericity", -1),
    ("necrosis", "enhancing_spherical_disproportion", +1),
    ("necrosis", "enhancing_compactness1", -1),
    ("necrosis", "enhancing_compactness2", -1),
)

"""Benchmark: the 20 image features of one BraTS-size segmentation, both conventions.

A 240×240×155 segmentation at 1 mm (BraTS geometry) with a realistic tumour: necrotic
core (label 1), an irregular enhancing rim (label 4, about 30 cm³) and peritumoral
edema around it (label 2, about 70 cm³). Times ``patient_features`` (reading the
.nii.gz, checking the labels, both regions) on one core, for each convention.
Target: under 1 s per patient for both regions.

    . .venv/bin/activate
    OMP_NUM_THREADS=1 python tests/benchmarks/bench_features.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from radiogenomics.features import load_segmentation, patient_features  # noqa: E402

LABELS = {"enhancing": 4, "edema": 2, "necrosis": 1}


def brats_like(shape=(240, 240, 155), seed=0, enhancing_cm3=30.0, edema_cm3=70.0) -> np.ndarray:
    """Labels 0/1/2/4 with enhancing ≈ enhancing_cm3 and edema ≈ edema_cm3 at 1 mm."""
    rng = np.random.default_rng(seed)
    centre = np.array(shape) / 2 + rng.normal(0, 5, 3)
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    # a smooth random radial distortion makes the surfaces irregular
    noise = ndimage.gaussian_filter(rng.normal(size=shape).astype(np.float32), 8)
    noise *= 0.12 / noise.std()
    dist = np.sqrt(sum(((g - c) / s) ** 2 for g, c, s in zip(grid, centre, (1.0, 0.85, 0.8))))
    dist = dist * (1.0 + noise)
    labels = np.zeros(shape, dtype=np.uint8)

    def radius_for(volume_mm3, inner):
        # smallest radius whose shell beyond `inner` holds the requested volume
        r = np.sort(dist[dist >= inner].ravel())
        return float(r[min(int(volume_mm3), r.size - 1)])

    r_core = radius_for(8000.0, 0.0)
    r_enh = radius_for(enhancing_cm3 * 1000, r_core)
    r_edema = radius_for(edema_cm3 * 1000, r_enh)
    labels[dist < r_edema] = 2
    labels[dist < r_enh] = 4
    labels[dist < r_core] = 1
    return labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    labels = brats_like()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "TCGA-00-0000_bench.nii.gz"
        nib.save(nib.Nifti1Image(labels, np.diag([-1.0, -1.0, 1.0, 1.0])), str(path))
        print(f"segmentation {labels.shape}, enhancing {np.count_nonzero(labels == 4) / 1000:.1f} cm³, "
              f"edema {np.count_nonzero(labels == 2) / 1000:.1f} cm³, "
              f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            load_segmentation(path, LABELS)
            times.append(time.perf_counter() - start)
        print(f"{'read + check only':>20s}: median {statistics.median(times):.3f} s, min {min(times):.3f} s")
        for convention in ("paper", "ibsi"):
            patient_features(path, LABELS, convention)  # warm-up (imports, caches)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                values = patient_features(path, LABELS, convention)
                times.append(time.perf_counter() - start)
            print(f"{convention:>20s}: median {statistics.median(times):.3f} s, min {min(times):.3f} s "
                  f"per patient (both regions, incl. reading); enhancing V "
                  f"{values['enhancing_volume']:.1f} cm³, SA {values['enhancing_surface_area']:.1f} cm², "
                  f"edema V {values['edema_volume']:.1f} cm³, SA {values['edema_surface_area']:.1f} cm²")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

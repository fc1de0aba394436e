"""Issue #15's acceptance: `navion twin-gap` on both real fragments, every banded row in its band.

MH_01: the 10 s handheld fragment against its twin on the whole MH_01 ground truth (the
twin's hall and IMU regimes see the whole sequence). V1_01: the micro fragment (images at
rest, the full V1_01 IMU stream) against the V1_01 twin. Rows the twins do not yet reach
are strict xfails that give the measured gap: when a row comes into its band, the xfail
fails and must be removed.
"""
import pytest

from data_paths import shared_data
from navion.twin_gap.gap import twin_gap

FRAGMENTS = {
    "mh01": ("euroc_mh01_moving", "euroc_groundtruth/MH_01_easy.txt"),
    "v101": ("euroc_v101_micro", "euroc_groundtruth/V1_01_easy.txt"),
}

IMAGE_ROWS = [f"{cam}.{m}" for cam in ("cam0", "cam1") for m in ("gradient_median", "corners_per_frame", "codec_ratio")]
IMU_ROWS = [f"imu.{s}_highpass_std.{state}.{a}" for s in ("gyro", "accel") for state in ("rest", "motion")
            for a in "xyz"]
ACCEPTANCE = {
    "mh01": IMAGE_ROWS + ["stereo.gain_ratio", "vio.stereo_tracks_per_frame", "vio.reprojection_rms_px",
                          "vio.ate_rmse_m"] + [r for r in IMU_ROWS if ".motion." in r],  # MH_01 never rests here
    "v101": IMAGE_ROWS + ["stereo.gain_ratio", "vio.stereo_tracks_per_frame", "vio.reprojection_rms_px"] + IMU_ROWS,
}

# Rows outside their band at the last measurement (seed 0), with the measured gap.
KNOWN_GAPS = {
    ("mh01", "vio.stereo_tracks_per_frame"): "twin 175 vs real 82.5: real MH_01 here is mostly near clutter "
                                             "(median disparity 69 px against the twin's 11 px)",
    ("mh01", "vio.reprojection_rms_px"): "twin 0.40 vs real 0.76 px",
    ("v101", "cam0.corners_per_frame"): "twin 888 vs real 563 with the closed-loop texel size (1.25 mm)",
    ("v101", "cam1.corners_per_frame"): "twin 902 vs real 520 (see cam0)",
    ("v101", "vio.reprojection_rms_px"): "twin 0.45 vs real 0.20 px",
}


@pytest.fixture(scope="module")
def gap_rows(tmp_path_factory):
    """fragment -> its gap rows by key; one twin-gap run per fragment, on first use."""
    runs: dict[str, dict] = {}

    def rows(fragment: str) -> dict:
        if fragment not in runs:
            real, groundtruth = FRAGMENTS[fragment]
            out = tmp_path_factory.mktemp(f"gap_{fragment}")
            result = twin_gap(shared_data(real), out, groundtruth=shared_data(groundtruth), seed=0, image_frames=20)
            runs[fragment] = {row.key: row for row in result["rows"]}
        return runs[fragment]

    return rows


def _cases():
    for fragment in sorted(FRAGMENTS):
        for key in ACCEPTANCE[fragment]:
            reason = KNOWN_GAPS.get((fragment, key))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(fragment, key, marks=marks, id=f"{fragment}-{key}")


@pytest.mark.parametrize("fragment,key", list(_cases()))
def test_row_in_band(gap_rows, fragment, key):
    row = gap_rows(fragment)[key]
    assert row.real is not None and row.twin is not None, f"{key}: not measured"
    assert row.flag == "ok", f"{key}: real {row.real:.4g}, twin {row.twin:.4g}, band {row.band}"

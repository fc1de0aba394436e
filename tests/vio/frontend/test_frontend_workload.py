"""Workload records of the front-end against the formulas of docs/frontend_workload.md,
worked by hand for a tiny image."""
from __future__ import annotations

import cv2
import numpy as np

from accel_model.workload import NULL_WORKLOAD, Workload
from datasets.calibration import CameraCalibration
from vio.frontend import Frontend, FrontendConfig
from vio.frontend import workload as wlf

W, H = 64, 48
T_RIGHT = np.array([[1, 0, 0, 0.1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
LEFT = CameraCalibration("l", np.eye(4), (60.0, 60.0, 32.0, 24.0), "none", (), (W, H), 20.0)
RIGHT = CameraCalibration("r", T_RIGHT, (60.0, 60.0, 32.0, 24.0), "none", (), (W, H), 20.0)
CONFIG = FrontendConfig(max_features=12, grid_rows=2, grid_cols=2, min_distance_px=4.0, border_px=4,
                        klt_window_px=7, pyramid_levels=2, klt_max_iterations=5, min_corner_score=0.0)


def tiny_texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(0, 255, (H, W)), (0, 0), 1.0).astype(np.uint8)


def test_pyramid_pixels_are_the_sum_of_level_sizes():
    assert wlf.pyramid_sizes(W, H, 3) == [(64, 48), (32, 24), (16, 12)]
    assert wlf.pyramid_sizes(15, 9, 3) == [(15, 9), (8, 5), (4, 3)]
    assert wlf.pyramid_pixels(W, H, 3) == 64 * 48 + 32 * 24 + 16 * 12
    tally = wlf.Tally()
    wlf.count_image(tally, W, H, 2)
    wl, stored = tally.to_workload("t"), tally.variant(gradients="stored").to_workload("t")
    pyramid = 64 * 48 + 32 * 24
    assert wl.buffers["frame_pyramid"].writes_words == pyramid
    assert wl.buffers["frame_pyramid"].reads_words == 0  # streamed: the camera feeds pyrDown
    from_memory = tally.variant(pyramid="from_memory").to_workload("t")
    assert from_memory.buffers["frame_pyramid"].reads_words == 64 * 48  # pyrDown reads level 0 back
    stored_from_memory = tally.variant(gradients="stored", pyramid="from_memory").to_workload("t")
    assert stored_from_memory.buffers["frame_pyramid"].reads_words == pyramid  # Scharr reads both levels
    passes = 32 * 48 + 32 * 24  # horizontal pass on 48 rows, vertical on 24
    assert wl.ops[("cmul", 16)] == 5 * passes  # every filter tap a constant multiplication
    assert ("mul", 16) not in wl.ops
    assert wl.ops[("cmul_add", 16)] == passes  # as shifts and adds: 6 = 4 + 2 in the binomial
    # stored gradients: Scharr over both levels, read from the frame store, kept 16-bit
    assert "gradients" not in wl.buffers
    assert "frame_pyramid" not in stored.buffers
    assert stored.buffers["gradients"].writes_words == 2 * pyramid
    assert stored.buffers["gradients"].peak_bytes == 3 * 2 * pyramid * 2
    assert stored.ops[("cmul", 16)] == 2 * 2 * 3 * pyramid
    assert stored.ops[("cmul_add", 16)] == 2 * 3 * pyramid  # 3 = 2 + 1 and 10 = 8 + 2 in Scharr's smoothing
    assert sorted(tally.variants) == [(("gradients", "stored"),), (("gradients", "stored"), ("pyramid", "from_memory")),
                                      (("pyramid", "from_memory"),)]  # on the fly: no gradients per image


def test_klt_count_formula():
    tally = wlf.Tally()
    setups, iterations = 20, 37  # e.g. 10 points on 2 levels, 37 iterations in all
    wlf.count_klt(tally, setups, iterations, 7, W, H, 2)
    wl = tally.to_workload("t")
    assert wl.total_ops("mul") == setups * (15 * 49 + 10) + iterations * (6 * 49 + 6)
    assert wl.total_ops("add") == setups * (12 * 49 + 6) + iterations * (6 * 49 + 4)
    # bilinear multiplies by 14-bit weights at their operands' width: 8-bit pixels, 16-bit gradients
    assert wl.ops[("mul", 11)] == 4 * 49 * (setups + iterations) and wl.ops[("mul", 15)] == 8 * 49 * setups
    assert wl.ops[("mul", 16)] == 49 * (3 * setups + 2 * iterations)
    region = (7 + 1 + 2 * wlf.KLT_PATCH_MARGIN_PX) ** 2  # J search region, read once per set-up
    assert "frame_pyramid" not in wl.buffers  # where windows come from depends on the frame codec
    assert wl.buffers["gradients"].reads_words == setups * 2 * 64
    # the iterations read the patch buffers: the J footprint and the template's I, Ix, Iy
    j, template = wl.buffers["klt_region"], wl.buffers["klt_template"]
    assert (j.writes_words, j.reads_words, j.peak_bytes) == (setups * region, iterations * 64, region)
    assert (template.writes_words, template.reads_words) == (setups * 3 * 49, iterations * 3 * 49)
    assert template.peak_bytes == 3 * 49 * 2
    # the template footprint: 8 x 8 pixels from the frame store, or a 10 x 10 tile and Scharr on the fly
    def window_reads(**conditions):
        return {codec: tally.variant(codec=codec, **conditions).to_workload("t").buffers
                for codec in ("false", "true")}

    raw, compressed = window_reads().values()
    assert raw["frame_pyramid"].reads_words == setups * region and "frame_band" not in raw
    # compressed frames: both pyramids of the pass pair decoded once into a band the windows are read from
    pyramid = 64 * 48 + 32 * 24
    assert compressed["frame_pyramid"].reads_words == 2 * pyramid
    band = compressed["frame_band"]
    assert (band.writes_words, band.reads_words) == (2 * pyramid, setups * region)
    assert band.peak_bytes == 2 * wlf.band_rows(7) * 64  # one level of each image at a time
    for gradients, footprint in (("stored", 64), ("on_the_fly", 100)):
        raw, compressed = window_reads(gradients=gradients).values()
        assert raw["frame_pyramid"].reads_words == compressed["frame_band"].reads_words == setups * footprint
    stored = tally.variant(gradients="stored").to_workload("t")
    assert not stored.buffers and stored.total_ops() == 0
    fly = tally.variant(gradients="on_the_fly").to_workload("t")
    tile = fly.buffers["klt_tile"]
    assert (tile.writes_words, tile.reads_words, tile.peak_bytes) == (setups * 100, setups * 3 * 64, 100)
    grads = fly.buffers["gradients"]
    assert (grads.writes_words, grads.reads_words, grads.peak_bytes) == (setups * 2 * 64, 0, 2 * 64 * 2)
    assert fly.ops == {("cmul", 16): setups * 64 * 12, ("cmul_add", 16): setups * 64 * 6,
                       ("add", 16): setups * 64 * 8}


def test_frontend_workload_on_a_tiny_image():
    fe = Frontend(LEFT, RIGHT, CONFIG)
    first = fe.process((1, tiny_texture(0), tiny_texture(1)))
    assert [w.stage for w in first.workloads] == [
        "frontend", "frontend[codec=false]", "frontend[codec=false,gradients=on_the_fly]",
        "frontend[codec=false,gradients=stored]", "frontend[codec=true]", "frontend[codec=true,gradients=on_the_fly]",
        "frontend[codec=true,gradients=stored]", "frontend[gradients=on_the_fly]", "frontend[gradients=stored]",
        "frontend[gradients=stored,pyramid=from_memory]", "frontend[pyramid=from_memory]"]
    wl = first.workloads[0]
    pyramid = 64 * 48 + 32 * 24
    assert wl.buffers["frame_pyramid"].writes_words == 2 * pyramid
    assert wl.buffers["frame_pyramid"].peak_bytes == 3 * pyramid
    # first frame: every cell needs features and no track masks anything
    evaluated = (W - 2 * 4) * (H - 2 * 4)
    assert wl.buffers["corner_scores"].writes_words == evaluated
    assert wl.total_ops("sqrt") >= evaluated
    assert wl.buffers["feature_table"].writes_words == len(first) * wlf.FEATURE_ENTRY_WORDS
    assert wl.buffers["feature_table"].peak_bytes == 12 * wlf.FEATURE_ENTRY_WORDS * 4
    second = fe.process((2, tiny_texture(0), tiny_texture(1)))
    assert second.n_tracked > 0
    assert second.workloads[0].buffers["feature_table"].reads_words == len(first) * wlf.FEATURE_ENTRY_WORDS


def test_counting_off_costs_nothing():
    fe = Frontend(LEFT, RIGHT, FrontendConfig(**{**CONFIG.to_dict(), "count_workload": False}))
    out = fe.process((1, tiny_texture(0), tiny_texture(1)))
    assert out.workloads == () and len(out) > 0


def test_detection_sobel_taps_are_constant_multiplications():
    tally = wlf.Tally()
    wlf.count_detection(tally, 500, 400, 30, 12, 4.0, 3, W * H)
    wl = tally.to_workload("t")
    # the scored cells are read from raw frames; compressed frames are decoded whole in raster order
    assert tally.variant(codec="false").to_workload("t").buffers["frame_pyramid"].reads_words == 500
    assert tally.variant(codec="true").to_workload("t").buffers["frame_pyramid"].reads_words == W * H
    assert wl.ops[("cmul", 32)] == 12 * 400 and wl.total_ops("cmul_add") == 0  # [1 2 1] and [-1 0 1]
    assert wl.ops[("mul", 32)] == (3 + 4) * 400  # structure-tensor products and min eigenvalue


def test_tally_gives_the_record_of_direct_counting():
    direct, tally = Workload("frontend"), wlf.Tally()
    for wl in (direct, tally):
        wlf.count_feature_table(wl, 10, 12, 12)
        wlf.count_feature_table(wl, 12, 9, 12)
    assert tally.to_workloads("frontend") == (direct,)


def test_counting_off_reaches_no_variant():
    assert wlf.variant(NULL_WORKLOAD, gradients="stored") is NULL_WORKLOAD
    wlf.count_image(NULL_WORKLOAD, W, H, 2)
    wlf.count_klt(NULL_WORKLOAD, 20, 37, 7, W, H, 2)
    wlf.count_detection(NULL_WORKLOAD, 500, 400, 30, 12, 4.0, 3, W * H)
    assert not NULL_WORKLOAD.buffers

"""Counting formulas of the front-end's operations and memory traffic.

Each stage is counted by an analytic formula applied to what actually ran (image sizes,
KLT set-ups and iterations, pixels scored, hypotheses scored). The
formulas, their sources and which counts are exact or bounds are in
docs/frontend_workload.md; the constants below are the per-item costs listed there.
Filter taps count as one multiply and (taps - 1) adds, trivial coefficients included.
Where designs differ in dataflow (image gradients stored or computed per KLT template),
each alternative is counted in its own record (:meth:`Tally.variant`).
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import pairwise

from accel_model.workload import NULL_WORKLOAD, Workload, variant_stage

PIXEL_BITS = 8        # image and pyramid pixels
GRAD_BITS = 16        # Scharr derivatives, line-buffer words, filter arithmetic
SCORE_BITS = 32       # corner scores (fixed point)
MASK_BITS = 1         # detection (minimum-distance) mask: one bit per pixel
COORD_BITS = 32       # feature coordinates and geometry (float32 on a chip)
PYRDOWN_TAPS = 5      # 1-D binomial [1 4 6 4 1] / 16, separable
SCHARR_TAPS = 3       # 1-D taps per pass of a separable 3x3 Scharr derivative
SOBEL_TAPS = 3        # 1-D taps per pass of the 3x3 Sobel inside the Shi-Tomasi score
FEATURE_ENTRY_WORDS = 12  # 32-bit words: id 2, raw uv 2, normalized xy 2, right uv 2, age 1, first seen 2, flags 1
UNDISTORT_ITERATIONS = 30  # iteration cap of the point undistortion (a bound)

# per-item operation counts (see docs/frontend_workload.md)
# Constant filter taps as "cmul" (one per tap, zero and unit taps included) and, for a
# design that shifts and adds, "cmul_add": the adds beyond one shift per tap (canonical
# signed digits minus one): binomial [1 4 6 4 1]: 1 (6 = 4 + 2); Scharr smoothing
# [3 10 3]: 3 (3 = 2 + 1, 10 = 8 + 2); derivatives [-1 0 1] and Sobel smoothing [1 2 1]: 0.
PYRDOWN_CSD_ADDS = 1
SCHARR_CSD_ADDS = 3 + 0  # smoothing pass + derivative pass of one derivative
SOBEL_CSD_ADDS = 0
SHI_TOMASI_OPS = {"cmul": 2 * 2 * SOBEL_TAPS, "cmul_add": 2 * SOBEL_CSD_ADDS, "mul": 3 + 4,
                  "add": 2 * 2 * (SOBEL_TAPS - 1) + 4, "sqrt": 1}
# A multiply of an a-bit by a b-bit operand is recorded at sqrt(a b) bits (rounded), the width
# whose square is its partial-product array (multiplier energy ~ a b; docs/energy_model.md).
# Bilinear interpolation multiplies by 14-bit weights (OpenCV's W_BITS).
BILINEAR_PIXEL_MUL_BITS = round(math.sqrt(PIXEL_BITS * 14))  # 8-bit pixel x weight: 11
BILINEAR_GRAD_MUL_BITS = round(math.sqrt(GRAD_BITS * 14))    # 16-bit gradient x weight: 15
KLT_SETUP_PIXEL_MULS = {BILINEAR_PIXEL_MUL_BITS: 4, BILINEAR_GRAD_MUL_BITS: 2 * 4, GRAD_BITS: 3}  # I; Ix, Iy; G
KLT_SETUP_PIXEL_OPS = {"add": 3 * 3 + 3}                       # bilinear I, Ix, Iy; G += g g^T
KLT_SETUP_POINT_OPS = {"mul": 2 + 8, "add": 6, "div": 1, "sqrt": 1, "compare": 1}  # level scale, G^-1, min eig
KLT_ITER_PIXEL_MULS = {BILINEAR_PIXEL_MUL_BITS: 4, GRAD_BITS: 2}  # bilinear J; b += r g
KLT_ITER_PIXEL_OPS = {"add": 3 + 1 + 2}                        # bilinear J, residual, b += r g
KLT_ITER_POINT_OPS = {"mul": 4 + 2, "add": 2 + 2, "compare": 1}   # delta = G^-1 b, |delta|^2 <= eps^2
UNDISTORT_ITER_OPS = {"mul": 16, "add": 10, "div": 1}          # one plumb-bob fixed-point iteration
UNDISTORT_POINT_OPS = {"mul": 4, "add": 4}                       # K^-1 before, K after
PROJECT_OPS = {"mul": 3 + 9 + 12 + 2, "add": 9 + 8 + 2, "div": 2}  # depth seed -> right raw pixel
EPIPOLAR_OPS = {"mul": 9 + 2 + 2 + 1, "add": 6 + 2 + 1, "div": 1, "sqrt": 1, "compare": 1}
DISPARITY_OPS = {"mul": 9 + 2 + 1, "add": 6 + 2 + 1, "div": 2, "compare": 2}
BEARING_OPS = {"mul": 3, "add": 2, "div": 3, "sqrt": 1}
TWO_POINT_POINT_SETUP_OPS = {"mul": 9 + 6, "add": 6 + 3}                    # R f_cur, n = f_cur_rot x f_prev
TWO_POINT_HYPOTHESIS_OPS = {"mul": 6 + 3, "add": 3 + 2, "sqrt": 1, "div": 3, "compare": 2}
TWO_POINT_RESIDUAL_OPS = {"mul": 6 + 3 + 3 + 1, "add": 3 + 2 + 2, "sqrt": 1, "compare": 1}
FIVE_POINT_SOLVER_OPS = {"mul": 6000, "add": 6000, "div": 100, "sqrt": 20}  # order of magnitude (estimate)
FIVE_POINT_SOLUTIONS = 10                                                  # at most, each scored
SAMPSON_OPS = {"mul": 9 + 9 + 6, "add": 6 + 6 + 4, "div": 1, "compare": 1}
PARALLAX_OPS = {"mul": 9 + 2, "add": 6 + 2 + 1 + 1, "div": 2, "sqrt": 1}


class Tally:
    """A frame's counts, collected without the per-call checks of :class:`Workload`
    (which cost more than the counting itself) and handed over once by :meth:`to_workloads`.
    Takes the same calls as a Workload: ``add_ops``, ``read``, ``write``, ``peak``; work
    that only designs with given hardware settings do goes to :meth:`variant`."""

    enabled = True

    def __init__(self) -> None:
        self.ops: dict[tuple[str, int], int] = {}
        self.reads: dict[tuple[str, int], int] = {}
        self.writes: dict[tuple[str, int], int] = {}
        self.peaks: dict[str, int] = {}
        self.variants: dict[tuple[tuple[str, str], ...], Tally] = {}

    def add_ops(self, kind: str, count: int, bits: int) -> None:
        self.ops[kind, bits] = self.ops.get((kind, bits), 0) + count

    def read(self, buffer: str, words: int, bits: int) -> None:
        self.reads[buffer, bits] = self.reads.get((buffer, bits), 0) + words

    def write(self, buffer: str, words: int, bits: int) -> None:
        self.writes[buffer, bits] = self.writes.get((buffer, bits), 0) + words

    def peak(self, buffer: str, nbytes: int) -> None:
        self.peaks[buffer] = max(self.peaks.get(buffer, 0), nbytes)

    def variant(self, **conditions: str) -> "Tally":
        """The tally of work done only by designs with these hardware settings
        (e.g. ``gradients="stored"``; see accel_model.hardware.VARIANT_FIELDS)."""
        return self.variants.setdefault(tuple(sorted(conditions.items())), Tally())

    def to_workload(self, stage: str) -> Workload:
        """The common counts (no variants) as a checked :class:`Workload` record."""
        wl = Workload(stage)
        for (kind, bits), count in self.ops.items():
            wl.add_ops(kind, int(count), bits)
        for (name, bits), words in self.reads.items():
            wl.read(name, int(words), bits)
        for (name, bits), words in self.writes.items():
            wl.write(name, int(words), bits)
        for name, nbytes in self.peaks.items():
            wl.peak(name, int(nbytes))
        return wl

    def to_workloads(self, stage: str) -> tuple[Workload, ...]:
        """The common record, then one record per variant (stage ``stage[key=value]``)."""
        return (self.to_workload(stage),) + tuple(
            tally.to_workload(variant_stage(stage, **dict(conditions)))
            for conditions, tally in sorted(self.variants.items()))


def variant(wl: "Tally | Workload", **conditions: str) -> "Tally | Workload":
    """``wl.variant(**conditions)``; counting off (NULL_WORKLOAD) stays off."""
    return wl.variant(**conditions) if wl.enabled else NULL_WORKLOAD


def add_ops(wl: "Workload | Tally", table: dict, times: int, bits: int = COORD_BITS) -> None:
    """Adds ``times`` x each entry of an op table."""
    for kind, count in table.items():
        wl.add_ops(kind, count * times, bits)


def pyramid_sizes(width: int, height: int, levels: int) -> list[tuple[int, int]]:
    """(w_l, h_l) of each level; cv2.pyrDown halves rounding up: w_{l+1} = (w_l + 1) // 2."""
    sizes = [(width, height)]
    for _ in range(levels - 1):
        w, h = sizes[-1]
        sizes.append(((w + 1) // 2, (h + 1) // 2))
    return sizes


def pyramid_pixels(width: int, height: int, levels: int) -> int:
    """Pixels of a whole pyramid, sum over levels of w_l h_l."""
    return sum(w * h for w, h in pyramid_sizes(width, height, levels))


def count_scharr(wl: "Workload | Tally", positions: int) -> None:
    """Scharr x and y at ``positions`` pixels: 2 derivatives x 2 passes x 3 taps, 16-bit."""
    wl.add_ops("cmul", 2 * 2 * SCHARR_TAPS * positions, GRAD_BITS)
    wl.add_ops("cmul_add", 2 * SCHARR_CSD_ADDS * positions, GRAD_BITS)
    wl.add_ops("add", 2 * 2 * (SCHARR_TAPS - 1) * positions, GRAD_BITS)


def count_image(wl: Tally, width: int, height: int, levels: int) -> None:
    """One camera image: stored (level 0) and reduced into the pyramid (pyrDown to level l,
    separable 5-tap: a horizontal pass over w_l x h_{l-1}, a vertical pass over w_l x h_l).

    With ``gradients: stored`` Scharr x and y run over every level (separable, through the
    line buffer) and are kept as 16-bit gradients for the KLT set-ups; with ``on_the_fly``
    the image gets none here (:func:`count_klt` computes them per template). With
    ``pyramid: from_memory`` each pass reads its input level from the frame store; with
    ``streamed`` the camera's stream and each level's output feed the passes directly.
    """
    sizes = pyramid_sizes(width, height, levels)
    wl.write("frame_pyramid", width * height, PIXEL_BITS)
    for (w0, h0), (w1, h1) in pairwise(sizes):
        passes = w1 * h0 + w1 * h1
        wl.add_ops("cmul", PYRDOWN_TAPS * passes, GRAD_BITS)
        wl.add_ops("cmul_add", PYRDOWN_CSD_ADDS * passes, GRAD_BITS)
        wl.add_ops("add", (PYRDOWN_TAPS - 1) * passes, GRAD_BITS)
        variant(wl, pyramid="from_memory").read("frame_pyramid", w0 * h0, PIXEL_BITS)
        wl.write("frame_pyramid", w1 * h1, PIXEL_BITS)
        wl.write("line_buffer", w1 * h0, GRAD_BITS)
        wl.read("line_buffer", PYRDOWN_TAPS * w1 * h1, GRAD_BITS)
    pixels = pyramid_pixels(width, height, levels)
    # live: previous left, current left and right pyramids; 5 16-bit lines of level 0
    wl.peak("frame_pyramid", 3 * pixels)
    wl.peak("line_buffer", PYRDOWN_TAPS * width * GRAD_BITS // 8)
    stored = variant(wl, gradients="stored")
    for w, h in sizes:
        p = w * h
        count_scharr(stored, p)
        variant(wl, gradients="stored", pyramid="from_memory").read("frame_pyramid", p, PIXEL_BITS)
        stored.write("line_buffer", 2 * p, GRAD_BITS)
        stored.read("line_buffer", 2 * SCHARR_TAPS * p, GRAD_BITS)
        stored.write("gradients", 2 * p, GRAD_BITS)
    stored.peak("gradients", 3 * 2 * pixels * GRAD_BITS // 8)  # the three pyramids' gradients


KLT_PATCH_MARGIN_PX = 2  # search margin of the J region around the window (assumption, docs)


def band_rows(window: int) -> int:
    """Rows per level of the decode band (compressed frames): two KLT search regions high,
    one being filled by the decoder while the other is read (assumption, docs)."""
    return 2 * (window + 1 + 2 * KLT_PATCH_MARGIN_PX)


def read_windows(wl: Tally, pixels: int, **conditions: str) -> None:
    """Reads of ``pixels`` frame pixels at window positions (KLT regions and templates): from
    the frame store when frames are stored raw (``codec: false``); from the decode band when
    they are compressed, since a line-based code cannot be entered mid-line."""
    variant(wl, codec="false", **conditions).read("frame_pyramid", pixels, PIXEL_BITS)
    variant(wl, codec="true", **conditions).read("frame_band", pixels, PIXEL_BITS)


def count_klt(wl: Tally, setups: int, iterations: int, window: int, width: int, height: int, levels: int) -> None:
    """Pyramidal LK (Bouguet 2000) as it ran: ``setups`` (point, level) set-ups and
    ``iterations`` Gauss-Newton iterations in total (both reported by the KLT kernel).

    Per set-up: the template window (bilinear I, Ix, Iy; G) and G's inverse and minimum
    eigenvalue; per iteration: a bilinear J patch, residual and b, and a 2x2 solve.
    Per-pixel arithmetic is 16-bit fixed point, as in OpenCV's LK (8-bit pixels, 16-bit
    Scharr derivatives, 14-bit bilinear weights: the bilinear multiplies are recorded at
    their operands' width, 11 and 15 bits); per-point solves are 32-bit.

    Memory, as a KLT datapath holds it: each set-up reads the J search region ((window +
    1 + 2 margin)^2 pixels) from the frame store once into a small ``klt_region`` buffer,
    reads the template footprint's gradients ((window+1)^2 positions) and writes the
    template's I, Ix, Iy into ``klt_template``; the iterations read their bilinear J
    footprint and the template values from those, not from the frame store. The template
    footprint's pixels: with ``gradients: stored`` the (window+1)^2 footprint is read from
    the frame store; with ``on_the_fly`` the (window+3)^2 tile around it is read into
    ``klt_tile``, and Scharr x and y run at the footprint's positions (a 3x3 register
    window over the tile: one 3-pixel column read per position) into ``gradients``,
    which then holds one template's gradients.

    Frames stored compressed (``codec: true``): the two pyramids of the pass pair (``width``
    x ``height``, ``levels``) are decoded once, in raster order, into ``frame_band``, and
    the windows are read from it. The points are taken level by level, coarsest first, and
    in row order within a level, so the band holds :func:`band_rows` rows of one level of
    each image (at most ``width`` pixels wide).
    """
    if setups == 0:
        return
    pix, foot = window * window, (window + 1) ** 2
    region = (window + 1 + 2 * KLT_PATCH_MARGIN_PX) ** 2
    tile = (window + 3) ** 2
    add_ops(wl, KLT_SETUP_PIXEL_OPS, setups * pix, GRAD_BITS)
    add_ops(wl, KLT_SETUP_POINT_OPS, setups)
    add_ops(wl, KLT_ITER_PIXEL_OPS, iterations * pix, GRAD_BITS)
    add_ops(wl, KLT_ITER_POINT_OPS, iterations)
    for bits, n in KLT_SETUP_PIXEL_MULS.items():
        wl.add_ops("mul", n * setups * pix, bits)
    for bits, n in KLT_ITER_PIXEL_MULS.items():
        wl.add_ops("mul", n * iterations * pix, bits)
    read_windows(wl, region * setups)
    decoded = 2 * pyramid_pixels(width, height, levels)
    compressed = variant(wl, codec="true")
    compressed.read("frame_pyramid", decoded, PIXEL_BITS)
    compressed.write("frame_band", decoded, PIXEL_BITS)
    compressed.peak("frame_band", 2 * band_rows(window) * width)
    wl.read("gradients", 2 * foot * setups, GRAD_BITS)
    wl.write("klt_region", region * setups, PIXEL_BITS)
    wl.read("klt_region", foot * iterations, PIXEL_BITS)
    wl.peak("klt_region", region * PIXEL_BITS // 8)
    wl.write("klt_template", 3 * pix * setups, GRAD_BITS)
    wl.read("klt_template", 3 * pix * iterations, GRAD_BITS)
    wl.peak("klt_template", 3 * pix * GRAD_BITS // 8)
    read_windows(wl, foot * setups, gradients="stored")
    read_windows(wl, tile * setups, gradients="on_the_fly")
    fly = variant(wl, gradients="on_the_fly")
    fly.write("klt_tile", tile * setups, PIXEL_BITS)
    fly.read("klt_tile", SCHARR_TAPS * foot * setups, PIXEL_BITS)
    fly.peak("klt_tile", tile * PIXEL_BITS // 8)
    count_scharr(fly, foot * setups)
    fly.write("gradients", 2 * foot * setups, GRAD_BITS)
    fly.peak("gradients", 2 * foot * GRAD_BITS // 8)


def count_undistort(wl: "Workload | Tally", n_points: int) -> None:
    """Point undistortion: UNDISTORT_ITERATIONS fixed-point iterations per point (a bound)."""
    add_ops(wl, UNDISTORT_ITER_OPS, n_points * UNDISTORT_ITERATIONS)
    add_ops(wl, UNDISTORT_POINT_OPS, n_points)


def count_detection(wl: Tally, scored_pixels: int, evaluated_pixels: int, candidates: int,
                    painted_discs: int, min_distance_px: float, block: int, image_pixels: int) -> None:
    """Shi-Tomasi detection over the masked region of the cells that need features.

    One score per evaluated pixel (Sobel, products, block sums, min eigenvalue), 8
    compares (3x3 maximum) and 1 threshold compare per evaluated pixel, a sort of the
    candidates (C ceil(log2 C) compares) and a min-distance disc written into the
    detection mask per existing or accepted feature. The scored pixels are read from the
    frame store when frames are stored raw; compressed frames are decoded whole (the
    ``image_pixels`` of level 0) in raster order, the scoring unit taking the cells' pixels
    from the decoder's stream.
    """
    if scored_pixels == 0:
        return
    ops = dict(SHI_TOMASI_OPS)
    ops["add"] += 3 * 2 * (block - 1)  # separable block sums of Ixx, Iyy, Ixy
    add_ops(wl, ops, evaluated_pixels, SCORE_BITS)
    wl.add_ops("compare", 9 * evaluated_pixels + candidates * max(1, math.ceil(math.log2(max(candidates, 2)))),
               SCORE_BITS)
    variant(wl, codec="false").read("frame_pyramid", scored_pixels, PIXEL_BITS)
    variant(wl, codec="true").read("frame_pyramid", image_pixels, PIXEL_BITS)
    wl.write("line_buffer", 4 * evaluated_pixels, GRAD_BITS)           # pixel + 3 products per pixel
    wl.read("line_buffer", (SOBEL_TAPS + 3 * block) * evaluated_pixels, GRAD_BITS)
    wl.write("corner_scores", evaluated_pixels, SCORE_BITS)
    wl.read("corner_scores", 9 * evaluated_pixels, SCORE_BITS)
    wl.write("detection_mask", painted_discs * disc_pixels(min_distance_px), MASK_BITS)
    wl.read("detection_mask", evaluated_pixels + candidates, MASK_BITS)


@lru_cache(maxsize=16)
def disc_pixels(radius_px: float) -> int:
    """Pixels (dx, dy) of the integer lattice with dx^2 + dy^2 <= radius_px^2."""
    r = math.floor(radius_px)
    return sum(1 for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dx * dx + dy * dy <= radius_px ** 2)


def count_gain(wl: "Workload | Tally", width: int, height: int) -> None:
    """Stereo gain compensation: both image means (adds) and a saturating scale of the right image."""
    p = width * height
    wl.add_ops("add", 2 * p, SCORE_BITS)
    wl.add_ops("mul", p, GRAD_BITS)
    wl.add_ops("compare", p, GRAD_BITS)
    wl.add_ops("div", 1, SCORE_BITS)


def count_stereo_checks(wl: "Workload | Tally", n_seeded: int, n_checked: int) -> None:
    """Depth-prior seeds of the right search, then epipolar and disparity checks."""
    add_ops(wl, PROJECT_OPS, n_seeded)
    add_ops(wl, EPIPOLAR_OPS, n_checked)
    add_ops(wl, DISPARITY_OPS, n_checked)


def count_two_point(wl: "Workload | Tally", n_points: int, hypotheses: int) -> None:
    """Exact count of the 2-point RANSAC kernel: bearings, set-up, hypotheses x points."""
    add_ops(wl, BEARING_OPS, 2 * n_points)
    add_ops(wl, TWO_POINT_POINT_SETUP_OPS, n_points)
    add_ops(wl, TWO_POINT_HYPOTHESIS_OPS, hypotheses)
    add_ops(wl, TWO_POINT_RESIDUAL_OPS, hypotheses * n_points)


def count_five_point(wl: "Workload | Tally", n_points: int, hypotheses: int) -> None:
    """Estimate for cv2.findEssentialMat: solver + up to 10 solutions scored per hypothesis."""
    add_ops(wl, FIVE_POINT_SOLVER_OPS, hypotheses)
    add_ops(wl, SAMPSON_OPS, hypotheses * FIVE_POINT_SOLUTIONS * n_points)


def count_parallax(wl: "Workload | Tally", n_common: int) -> None:
    add_ops(wl, PARALLAX_OPS, n_common)


def count_feature_table(wl: "Workload | Tally", n_read: int, n_written: int, capacity: int) -> None:
    """Feature-table traffic: every entry read once and written once per frame."""
    wl.read("feature_table", n_read * FEATURE_ENTRY_WORDS, 32)
    wl.write("feature_table", n_written * FEATURE_ENTRY_WORDS, 32)
    wl.peak("feature_table", capacity * FEATURE_ENTRY_WORDS * 4)

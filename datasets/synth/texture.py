"""Surface textures with natural-image statistics, stored as mip-mapped tiles.

A *tile* is a periodic square grey image (values in [0, 1]) laid on a surface at
``texel_m`` metres per texel. The renderer samples it trilinearly in its mip pyramid at
the pixel's footprint on the surface (:func:`datasets.synth._kernels.sample_tile`), so a
tile looks the same band-limited way at any distance and angle.

Tiles come either from the fitted *natural* model or from the user's own images
(``texture_source``):

- **natural**: a dead-leaves image (occluding rectangles and ellipses whose size density
  falls as r^-3, the scale-invariant model of natural images of Lee, Mumford and Huang,
  IJCV 41, 2001), plus a Gaussian "grain" with a power spectrum ~ f^-beta inside the
  leaves, mapped onto the intensity quantiles of real EuRoC frames. Real scenes mix flat
  stretches (walls, floors) with busy ones, so the detail is modulated by a log-normal
  *contrast envelope* m (a smooth field of ``ENVELOPE_SCALE_M`` correlation length) on
  the leaves: tile = smooth + m (leaves - smooth) + w grain, with ``smooth`` the leaves
  blurred over ``SMOOTH_SCALE_M`` and w the grain weight. beta, the grain weight, the envelope's spread, the texel size and
  the quantiles are fitted per EuRoC environment by ``scripts/fit_texture.py`` and
  shipped in ``texture_euroc.yaml``.
- **images**: every PNG/JPEG in a folder, greyscale, cropped square, resized and
  mirrored into a periodic tile.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..calibration import load_yaml_text, read_yaml_file
from ..configuration import ConfigMixin
from ..errors import DatasetError

FITTED_PARAMETERS = Path(__file__).with_name("texture_euroc.yaml")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".bmp", ".tif", ".tiff")
LEAF_SIZE_EXPONENT = 3.0  # size density ~ r^-3: scale invariance (Lee, Mumford, Huang, IJCV 2001)
LEAF_COVERAGE = 4.0  # leaves drawn per unit area x mean leaf area: the bottom layer is hidden
ENVELOPE_SCALE_M = 0.25  # correlation length (Gaussian sigma) of the contrast envelope [m]: an assumption
SMOOTH_SCALE_M = 0.05  # blur (Gaussian sigma) of the flat stretches' shading [m]: an assumption


@dataclass(frozen=True)
class TextureConfig(ConfigMixin):
    """How the hall's surfaces are textured.

    model: "natural" (fitted tiles, or the user's images with ``source``) or "blocks"
        (the procedural rectangles of :func:`datasets.synth._kernels.texture_uv`).
    profile: fitted environment in the parameter file ("machine_hall", "vicon_room"),
        or "auto": chosen from the EuRoC sequence name in the trajectory file name (or the
        scene hint of a twin): V1_xx and V2_xx the vicon room, otherwise the machine hall.
    source: folder of the user's own texture images (overrides the fitted model).
    parameters: fitted parameter file; None = the shipped ``texture_euroc.yaml``.
    tiles: number of distinct tiles (surfaces pick one at random).
    tile_texels: side of a tile [texels], a power of two.
    texel_m: size of a texel on the surface [m]; None = the profile's fitted size (one
        texel per pixel at the real scene's median depth).
    """

    model: str = "natural"
    profile: str = "auto"
    source: str | None = None
    parameters: str | None = None
    tiles: int = 4
    tile_texels: int = 1024
    texel_m: float | None = None

    def __post_init__(self) -> None:
        if self.model not in ("natural", "blocks"):
            raise DatasetError(f"texture config: 'model' must be 'natural' or 'blocks', got {self.model!r}")
        if not isinstance(self.tiles, int) or not 1 <= self.tiles <= 64:
            raise DatasetError(f"texture config: 'tiles' must be in 1..64, got {self.tiles!r}")
        size = self.tile_texels
        if not isinstance(size, int) or size < 16 or size > 4096 or size & (size - 1):
            raise DatasetError(f"texture config: 'tile_texels' must be a power of two in 16..4096, got {size!r}")
        if self.texel_m is not None and not (isinstance(self.texel_m, (int, float)) and math.isfinite(self.texel_m)
                                             and 1e-5 <= self.texel_m <= 1.0):
            raise DatasetError(f"texture config: 'texel_m' must be in [1e-5, 1] m, got {self.texel_m!r}")


@dataclass(frozen=True)
class NaturalTextureParameters:
    """Fitted statistics of one environment (see ``scripts/fit_texture.py``).

    spectrum_slope: beta of the grain's power spectrum ~ f^-beta (2-D, radial).
    grain_weight: grain std / dead-leaves std before the quantile mapping.
    leaf_size_m: (smallest, largest) leaf radius [m].
    quantiles: intensity quantiles [0, 1] at equally spaced levels 0..1 of real frames.
    texel_m: texel size [m] that one pixel covers at the real scene's median depth
        (baseline / median stereo disparity).
    contrast_spread: std of the log contrast envelope (0: uniform detail).
    """

    spectrum_slope: float
    grain_weight: float
    leaf_size_m: tuple[float, float]
    quantiles: tuple[float, ...]
    texel_m: float
    contrast_spread: float


def load_parameters(path: str | Path | None, profile: str) -> NaturalTextureParameters:
    """The fitted parameters of ``profile`` in ``path`` (None: the shipped file)."""
    path = Path(path) if path is not None else FITTED_PARAMETERS
    text = read_yaml_file(path)
    data = load_yaml_text(text, str(path)) or {}
    profiles = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(profiles, dict) or profile not in profiles:
        known = ", ".join(profiles) if isinstance(profiles, dict) else "none"
        raise DatasetError(f"texture profile '{profile}' not found (known: {known})", path)
    p = profiles[profile]
    try:
        params = NaturalTextureParameters(float(p["spectrum_slope"]), float(p["grain_weight"]),
                                          tuple(float(v) for v in p["leaf_size_m"]),
                                          tuple(float(v) for v in p["quantiles"]), float(p["texel_m"]),
                                          float(p["contrast_spread"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"texture profile '{profile}': missing or malformed field ({exc})", path) from None
    q = np.asarray(params.quantiles)
    if (len(q) < 2 or np.any(np.diff(q) < 0) or q[0] < 0 or q[-1] > 1 or len(params.leaf_size_m) != 2
            or not 0 < params.leaf_size_m[0] < params.leaf_size_m[1] or params.grain_weight < 0
            or not 1e-5 <= params.texel_m <= 1.0 or not 0 <= params.contrast_spread <= 5):
        raise DatasetError(f"texture profile '{profile}': quantiles must rise within [0, 1], leaf_size_m be "
                           "(min, max) > 0, grain_weight >= 0, texel_m in [1e-5, 1] and contrast_spread in [0, 5]",
                           path)
    return params


def resolve_profile(config: TextureConfig, scene_name: str | None) -> str:
    """The environment profile: the configured one, or from an EuRoC sequence name in
    ``scene_name`` (a trajectory or sequence path: ``V1_01``, ``v101``, ``V2_03`` ... give the
    vicon room; anything else, ``MH_01`` included, the machine hall)."""
    if config.profile != "auto":
        return config.profile
    return "vicon_room" if scene_name and re.search(r"(?i)v[12]_?0[1-3]", Path(scene_name).name) else "machine_hall"


def _power_law_noise(size: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Periodic Gaussian field (size, size), zero mean, unit std, power spectrum ~ f^-slope."""
    radius = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :])
    radius[0, 0] = 1.0
    amplitude = radius ** (-slope / 2)
    amplitude[0, 0] = 0.0
    white = np.fft.rfft2(rng.standard_normal((size, size)).astype(np.float32))
    field = np.fft.irfft2(white * amplitude.astype(np.float32), s=(size, size))
    return (field - field.mean()) / field.std()


def _periodic_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (std ``sigma`` texels) of a periodic square image, by FFT."""
    size = image.shape[0]
    f2 = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.rfftfreq(size)[None, :] ** 2
    return np.fft.irfft2(np.fft.rfft2(image) * np.exp(-2 * np.pi**2 * sigma**2 * f2), s=image.shape)


def _unit_field(size: int, scale_texels: float, rng: np.random.Generator) -> np.ndarray:
    """Periodic Gaussian field (size, size), zero mean, unit std: white noise blurred over
    ``scale_texels``."""
    n = _periodic_blur(rng.standard_normal((size, size)), scale_texels)
    return (n - n.mean()) / max(float(n.std()), 1e-12)


def _radii(n: int, r_min: float, r_max: float, rng: np.random.Generator) -> np.ndarray:
    """n radii with density ~ r^-LEAF_SIZE_EXPONENT on [r_min, r_max] (inverse CDF)."""
    a = 1.0 - LEAF_SIZE_EXPONENT
    u = rng.uniform(size=n)
    return (r_min**a + u * (r_max**a - r_min**a)) ** (1.0 / a)


def dead_leaves(size: int, r_min_texels: float, r_max_texels: float, rng: np.random.Generator) -> np.ndarray:
    """Periodic dead-leaves image (size, size) float32: grey in [0, 1) per leaf, painter's order.

    Leaves are rotated rectangles (aspect 1..4) and ellipses, half of each, radius density
    ~ r^-3 on [r_min, r_max] texels; copies shifted by +-size keep the image periodic.
    """
    # E[r^2] under the density r^-3 on [r_min, r_max]: ln(r_max / r_min) / ((r_min^-2 - r_max^-2) / 2)
    mean_r2 = math.log(r_max_texels / r_min_texels) / ((r_min_texels**-2 - r_max_texels**-2) / 2)
    n = int(LEAF_COVERAGE * size * size / (np.pi * mean_r2)) + 1
    radii = _radii(n, r_min_texels, r_max_texels, rng)
    centres = rng.uniform(0, size, size=(n, 2))
    angles = rng.uniform(0, 180, size=n)
    aspect = rng.uniform(1.0, 4.0, size=n)
    grey = rng.uniform(0, 1, size=n)
    is_rect = rng.uniform(size=n) < 0.5
    canvas = np.zeros((size, size), dtype=np.float32)
    shift = 16  # fixed-point bits of cv2's sub-pixel drawing
    for k in range(n):
        half = (radii[k] * math.sqrt(aspect[k]), radii[k] / math.sqrt(aspect[k]))
        cx, cy, reach = centres[k, 0], centres[k, 1], half[0]
        xs = [0] + ([size] if cx - reach < 0 else []) + ([-size] if cx + reach > size else [])
        ys = [0] + ([size] if cy - reach < 0 else []) + ([-size] if cy + reach > size else [])
        for dx in xs:
            for dy in ys:
                if is_rect[k]:
                    box = cv2.boxPoints(((cx + dx, cy + dy), (2 * half[0], 2 * half[1]), angles[k]))
                    cv2.fillConvexPoly(canvas, np.round(box * 2**shift).astype(np.int32), float(grey[k]),
                                       lineType=cv2.LINE_8, shift=shift)
                else:
                    cv2.ellipse(canvas, (int(round((cx + dx) * 2**shift)), int(round((cy + dy) * 2**shift))),
                                (int(round(half[0] * 2**shift)), int(round(half[1] * 2**shift))), angles[k],
                                0, 360, float(grey[k]), -1, cv2.LINE_8, shift)
    return canvas


def quantile_map(image: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """``image`` with its intensity distribution replaced by the given quantile function."""
    levels = np.linspace(0, 1, len(quantiles))
    order = np.argsort(image.ravel(), kind="stable")
    p = np.empty(order.size)
    p[order] = (np.arange(order.size) + 0.5) / order.size
    return np.interp(p, levels, np.asarray(quantiles)).reshape(image.shape).astype(np.float32)


@dataclass(frozen=True)
class NaturalLayers:
    """The random layers of a natural tile, each (size, size): standardised dead leaves,
    the leaves blurred over ``SMOOTH_SCALE_M``, the unit grain and the unit envelope field."""

    leaves: np.ndarray
    smooth: np.ndarray
    grain: np.ndarray
    envelope_field: np.ndarray

    def compose(self, grain_weight: float, contrast_spread: float, quantiles: tuple[float, ...]) -> np.ndarray:
        """The tile (size, size) float32 in [0, 1]: smooth + m (leaves - smooth) + w grain,
        m = exp(spread n - spread^2 / 2) (log-normal, mean 1), mapped onto ``quantiles``."""
        envelope = np.exp(contrast_spread * self.envelope_field - 0.5 * contrast_spread**2)
        return quantile_map(self.smooth + envelope * (self.leaves - self.smooth) + grain_weight * self.grain,
                            quantiles)


def natural_layers(leaf_size_m: tuple[float, float], spectrum_slope: float, size: int, texel_m: float,
                   rng: np.random.Generator) -> NaturalLayers:
    """Draws the layers of one natural tile at ``texel_m`` (see :class:`NaturalLayers`)."""
    r_min, r_max = (r / texel_m for r in leaf_size_m)
    leaves = dead_leaves(size, max(r_min, 1.0), min(max(r_max, 2.0), size / 2), rng)
    leaves = (leaves - leaves.mean()) / max(float(leaves.std()), 1e-6)
    grain = _power_law_noise(size, spectrum_slope, rng)
    field = _unit_field(size, ENVELOPE_SCALE_M / texel_m, rng)
    return NaturalLayers(leaves, _periodic_blur(leaves, SMOOTH_SCALE_M / texel_m), grain, field)


def natural_tile(params: NaturalTextureParameters, size: int, texel_m: float,
                 rng: np.random.Generator) -> np.ndarray:
    """One tile (size, size) float32 in [0, 1] of the fitted natural model, at ``texel_m``."""
    layers = natural_layers(params.leaf_size_m, params.spectrum_slope, size, texel_m, rng)
    return layers.compose(params.grain_weight, params.contrast_spread, params.quantiles)


def image_tiles(folder: str | Path, size: int) -> list[np.ndarray]:
    """Periodic tiles (size, size) float32 in [0, 1] from every image in ``folder``.

    Each image is read grey, cropped to its central square, resized to size / 2 and
    mirrored into a size x size tile (mirroring makes it periodic without seams).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError("texture source is not a folder", folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"texture source holds no images ({', '.join(IMAGE_SUFFIXES)})", folder)
    tiles = []
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DatasetError("cannot read texture image", path)
        side = min(image.shape)
        if side < 16:
            raise DatasetError(f"texture image is smaller than 16 px ({image.shape[1]}x{image.shape[0]})", path)
        y0, x0 = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        half = cv2.resize(image[y0:y0 + side, x0:x0 + side], (size // 2, size // 2),
                          interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        top = np.hstack([half, half[:, ::-1]])
        tiles.append(np.vstack([top, top[::-1]]))
    return tiles


@dataclass(frozen=True)
class TextureBank:
    """Mip pyramids of T square tiles, flattened for the kernels.

    data: float32, all levels of all tiles; level l of tile t starts at ``offset[t, l]``
    and is ``size >> l`` texels square (row-major). texel_m: texel size at level 0 [m].
    """

    data: np.ndarray
    offset: np.ndarray
    size: int
    texel_m: float

    @property
    def n_tiles(self) -> int:
        return self.offset.shape[0]


def empty_bank() -> TextureBank:
    """No tiles (procedural blocks texture)."""
    return TextureBank(np.zeros(1, dtype=np.float32), np.zeros((0, 1), dtype=np.int64), 1, 1.0)


def mip_bank(tiles: list[np.ndarray], texel_m: float) -> TextureBank:
    """Box-filtered (2x2 mean, periodic) mip pyramids of equally sized power-of-two tiles."""
    size = tiles[0].shape[0]
    levels = int(math.log2(size)) + 1
    chunks, offset, at = [], np.zeros((len(tiles), levels), dtype=np.int64), 0
    for t, tile in enumerate(tiles):
        level = np.asarray(tile, dtype=np.float32)
        for lv in range(levels):
            offset[t, lv] = at
            chunks.append(level.ravel())
            at += level.size
            if level.shape[0] > 1:
                level = 0.25 * (level[0::2, 0::2] + level[1::2, 0::2] + level[0::2, 1::2] + level[1::2, 1::2])
    return TextureBank(np.concatenate(chunks).astype(np.float32), offset, size, float(texel_m))


def build_bank(config: TextureConfig, scene_name: str | None, seed: int) -> TextureBank:
    """The texture bank of a scene (empty for the blocks model). Deterministic in ``seed``."""
    if config.model == "blocks":
        return empty_bank()
    params = load_parameters(config.parameters, resolve_profile(config, scene_name))
    texel_m = params.texel_m if config.texel_m is None else config.texel_m
    if config.source is not None:
        return mip_bank(image_tiles(config.source, config.tile_texels), texel_m)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 7]).spawn(config.tiles)]
    tiles = [natural_tile(params, config.tile_texels, texel_m, rng) for rng in rngs]
    return mip_bank(tiles, texel_m)

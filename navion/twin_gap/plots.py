"""Plots of the twin gap (matplotlib, Agg): IMU PSD overlay, gradient histograms, a real frame
beside its twin frame, vignetting profiles."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .images import GRADIENT_BINS


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_imu_psd(real: dict, twin: dict, path: Path) -> None:
    """Welch PSD per axis of gyro and accel, real vs twin (log-log)."""
    plt = _plt()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True)
    for row, (sensor, unit) in enumerate((("gyro", "(rad/s)²/Hz"), ("accel", "(m/s²)²/Hz"))):
        for k, axis in enumerate("xyz"):
            ax = axes[row, k]
            for data, name, style in ((real, "real", "-"), (twin, "twin", "--")):
                if "psd_frequency_hz" not in data:
                    continue
                f = np.asarray(data["psd_frequency_hz"])
                p = np.asarray(data[f"psd_{sensor}"][k])
                ax.loglog(f[1:], p[1:], style, label=name, lw=1)
            ax.axvline(20.0, color="grey", lw=0.6, ls=":")
            ax.set_title(f"{sensor} {axis}")
            ax.set_ylabel(unit)
            if row == 1:
                ax.set_xlabel("frequency [Hz]")
            ax.legend(fontsize=8)
    fig.suptitle("IMU power spectral density (Welch), real vs twin; dotted: the 20 Hz high-pass cutoff")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_gradient_histograms(real: dict, twin: dict, path: Path) -> None:
    """Normalised |Sobel| histograms of cam0 and cam1, real vs twin."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    centres = 0.5 * (GRADIENT_BINS[1:] + GRADIENT_BINS[:-1])
    for ax, cam in zip(axes, ("cam0", "cam1")):
        for data, name, style in ((real, "real", "-"), (twin, "twin", "--")):
            h = np.asarray(data[cam]["gradient_histogram"], dtype=float)
            ax.semilogy(centres, h / max(h.sum(), 1), style, label=f"{name} (median {data[cam]['gradient_median']:.1f})")
        ax.set_xlabel("|Sobel| gradient magnitude [grey levels]")
        ax.set_ylabel("fraction of pixels")
        ax.set_title(cam)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_frames(real_pair: tuple[np.ndarray, np.ndarray], twin_pair: tuple[np.ndarray, np.ndarray],
                stamp_ns: int, path: Path) -> None:
    """The real left/right frame beside the twin's at the same stamp."""
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for r, (pair, name) in enumerate(((real_pair, "real"), (twin_pair, "twin"))):
        for c, cam in enumerate(("cam0", "cam1")):
            axes[r, c].imshow(pair[c], cmap="gray", vmin=0, vmax=255)
            axes[r, c].set_title(f"{name} {cam}")
            axes[r, c].axis("off")
    fig.suptitle(f"frame at {stamp_ns} ns")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_vignetting(real: dict, twin: dict, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for data, name, style in ((real, "real", "-"), (twin, "twin", "--")):
        for cam in ("cam0", "cam1"):
            prof = np.asarray(data[cam]["vignetting_profile"])
            r = (np.arange(len(prof)) + 0.5) / len(prof)
            ax.plot(r, prof, style, marker="o", ms=3, label=f"{name} {cam}")
    ax.set_xlabel("radius / farthest corner")
    ax.set_ylabel("mean brightness / centre")
    ax.set_title("radial brightness profile (vignetting)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Sparse 3-D occupancy grid: hashed chunks of C^3 cells, allocated on first touch.

The grid has bounds like the dense one (same origin, resolution, shape and cell indices),
but stores only the chunks a scan has touched: a dict maps the chunk index
``(cx, cy, cz) = cell // C`` to a slot of a pool of float32 (C, C, C) blocks that grows by
doubling. Untouched chunks read as unknown (log-odds 0). Updates go through the same scan
code as :class:`OccupancyGrid3D`, so both give identical log-odds on the same data.
Memory is proportional to the observed volume, which suits large areas.
"""
from __future__ import annotations

import numpy as np

from ._grid import UNKNOWN, classify_log_odds
from .config import OccupancyConfig
from .grid3d import Grid3D


class ChunkedOccupancyGrid3D(Grid3D):
    """Chunked 3-D occupancy grid (public API of :class:`OccupancyGrid3D`).

    origin_m (3,) [m], resolution_m [m], shape (3,) as for the dense grid; the chunk edge
    C is ``config.chunk_cells``.
    """

    def __init__(self, origin_m, resolution_m: float, shape, config: OccupancyConfig | None = None):
        super().__init__(origin_m, resolution_m, shape, config)
        self.chunk_cells = self.config.chunk_cells
        c = self.chunk_cells
        self._chunk_grid = tuple(-(-np.asarray(self.shape) // c))
        self._slots: dict[tuple[int, int, int], int] = {}
        self._pool = np.zeros((4, c, c, c), dtype=np.float32)

    # ------------------------------------------------------------------ chunks

    @property
    def n_chunks(self) -> int:
        return len(self._slots)

    @property
    def chunk_keys(self) -> np.ndarray:
        """(K, 3) int64 chunk indices, in slot order."""
        return np.array(list(self._slots), dtype=np.int64).reshape(-1, 3)

    @property
    def memory_bytes(self) -> int:
        """Bytes of the allocated chunks (the pool's spare capacity not counted)."""
        return self.n_chunks * self.chunk_cells ** 3 * 4

    def _slot(self, key: tuple[int, int, int]) -> int:
        slot = self._slots.get(key)
        if slot is None:
            slot = len(self._slots)
            if slot == len(self._pool):
                self._pool = np.concatenate([self._pool, np.zeros_like(self._pool)])
            self._slots[key] = slot
        return slot

    def _locate(self, cells: np.ndarray, create: bool) -> tuple[np.ndarray, tuple, int]:
        """Pool slot (N,) (-1: absent) and in-chunk index of cells (N, 3); unique chunks."""
        c = self.chunk_cells
        keys = cells // c
        uniq, first, inverse = np.unique(np.ravel_multi_index(tuple(keys.T), self._chunk_grid), return_index=True,
                                         return_inverse=True)
        lookup = self._slot if create else (lambda key: self._slots.get(key, -1))
        slots = np.array([lookup(tuple(k)) for k in keys[first].tolist()], dtype=np.int64)
        local = cells - keys * c
        return slots[inverse.reshape(-1)], tuple(local.T), len(uniq)

    def _apply(self, cells: np.ndarray, occupied: np.ndarray) -> int:
        if len(cells) == 0:
            return 0
        slot, (lx, ly, lz), n_chunks = self._locate(cells, create=True)
        self._pool[slot, lx, ly, lz] = self._updated(self._pool[slot, lx, ly, lz], occupied)
        return n_chunks

    def values_at(self, cells) -> np.ndarray:
        """Log-odds (N,) float32 of in-grid cells (N, 3)."""
        cells = self._checked_cells(cells)
        out = np.zeros(len(cells), dtype=np.float32)
        if len(cells):
            slot, (lx, ly, lz), _ = self._locate(cells, create=False)
            present = slot >= 0
            out[present] = self._pool[slot[present], lx[present], ly[present], lz[present]]
        return out

    # ------------------------------------------------------------------ reading

    def _chunk_views(self):
        """(chunk key, in-grid part of the chunk's block, first cell) for every chunk."""
        c = self.chunk_cells
        for key, slot in self._slots.items():
            first = np.asarray(key, np.int64) * c
            extent = np.minimum(first + c, self.shape) - first
            yield key, self._pool[slot, :extent[0], :extent[1], :extent[2]], first

    @property
    def log_odds(self) -> np.ndarray:
        """The full float32 log-odds array of ``shape`` (assembled from the chunks)."""
        out = np.zeros(self.shape, dtype=np.float32)
        for _, block, first in self._chunk_views():
            out[tuple(slice(int(a), int(a) + n) for a, n in zip(first, block.shape))] = block
        return out

    def counts(self) -> dict:
        """Number of unknown, free and occupied cells (from the chunks alone)."""
        free = occupied = 0
        for _, block, _ in self._chunk_views():
            free += int(np.count_nonzero(block < 0))
            occupied += int(np.count_nonzero(block > 0))
        return {"unknown": int(np.prod(self.shape)) - free - occupied, "free": free, "occupied": occupied}

    def occupied_cells(self) -> np.ndarray:
        """Indices (K, 3) int64 of the occupied cells, in C order."""
        parts = [np.argwhere(block > 0) + first for _, block, first in self._chunk_views()]
        if not parts:
            return np.zeros((0, 3), np.int64)
        cells = np.concatenate(parts).astype(np.int64)
        return cells[np.lexsort(cells.T[::-1])]

    def layer_log_odds(self, z_m: float) -> np.ndarray:
        iz = self.z_index(z_m)
        c = self.chunk_cells
        out = np.zeros(self.shape[:2], dtype=np.float32)
        for key, block, first in self._chunk_views():
            if key[2] == iz // c:
                out[first[0]:first[0] + block.shape[0], first[1]:first[1] + block.shape[1]] = block[:, :, iz - first[2]]
        return out

    def classify(self) -> np.ndarray:
        out = np.full(self.shape, UNKNOWN, dtype=np.int8)
        for _, block, first in self._chunk_views():
            out[tuple(slice(int(a), int(a) + n) for a, n in zip(first, block.shape))] = classify_log_odds(block)
        return out

    # ------------------------------------------------------------------ files

    def _block(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._slots:
            return np.zeros(3, np.int64), np.zeros((0, 0, 0), np.float32)
        keys = self.chunk_keys
        first = keys.min(axis=0) * self.chunk_cells
        last = np.minimum((keys.max(axis=0) + 1) * self.chunk_cells, self.shape)
        block = np.zeros(tuple(last - first), dtype=np.float32)
        for _, view, start in self._chunk_views():
            block[tuple(slice(int(a), int(a) + n) for a, n in zip(start - first, view.shape))] = view
        return first, block

    def _set_block(self, first: np.ndarray, block: np.ndarray) -> None:
        cells = np.argwhere(block != 0)
        if len(cells):
            self._apply_values(cells + first, block[tuple(cells.T)])

    def _apply_values(self, cells: np.ndarray, values: np.ndarray) -> None:
        slot, (lx, ly, lz), _ = self._locate(cells, create=True)
        self._pool[slot, lx, ly, lz] = values

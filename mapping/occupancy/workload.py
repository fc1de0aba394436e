"""What one scan update costs, as :class:`accel_model.workload.Workload` records.

Counted from the scan's statistics (:class:`mapping.occupancy.raycast.ScanCells`), so the
kernels carry no counters and counting costs nothing when the workload is disabled.
Per scan, in a D-dimensional grid (the kernels compute in float64, cells in float32):

- ray setup, per ray (64-bit): end point and direction in cell units (2D adds, D muls),
  range (D muls, D - 1 adds, 1 sqrt, 1 compare against max range, 1 div for max_t),
  tDelta = 1 / |d| (D divs), first tMax (D adds, D muls), direction signs (D compares);
- per DDA step (Amanatides & Woo 1987): choose the axis of the smallest tMax, test it
  against max_t and test every axis for a tie (2D compares, 64-bit), tMax += tDelta
  (1 add, 64-bit), step the cell index (1 add, 32-bit);
- per visited cell: grid bounds (2D compares, 32-bit), linear index in the scan window
  (D - 1 muls, 2D - 1 adds, 32-bit), read-modify-write of its byte in ``scan_marks``;
  each newly marked cell is written to and read back from ``scan_touched`` (32-bit index);
- per updated cell: bank choice ``(ix + iy + iz) mod B`` (D - 1 adds, 32-bit), one read and
  one write of its float32 log-odds in ``map_tiles.bank{b}``, one add and two compares
  (clamping, 32-bit). Skewed interleaving: a DDA step changes one index by one (a corner
  step changes the sum by up to D), so consecutive cells of a ray sit in different banks
  and B of them can be read in the same cycle;
- chunked storage: one read of ``chunk_table`` (64-bit entry) per chunk a scan touches.

Peaks: each bank holds 1/B of the map's log-odds storage, ``scan_marks`` one byte per
cell of the scan's window, ``chunk_table`` 16 bytes per allocated chunk.
"""
from __future__ import annotations

import numpy as np

from accel_model.workload import Workload

from ..errors import MappingError
from .raycast import ScanCells

STAGE = "mapping.integrate"  # the energy report's "mapping" group (accel_model.report.stage_group)
MAP_BUFFER = "map_tiles"
MARKS_BUFFER = "scan_marks"
TOUCHED_BUFFER = "scan_touched"
CHUNK_TABLE_BUFFER = "chunk_table"
CHUNK_TABLE_ENTRY_BYTES = 16


def bank_buffer(bank: int) -> str:
    return f"{MAP_BUFFER}.bank{bank}"


def bank_of(cells: np.ndarray, banks: int) -> np.ndarray:
    """Bank (N,) of cells (N, D) under skewed interleaving: (sum of indices) mod banks."""
    return np.mod(cells.sum(axis=1), banks)


def record_scan(workload: Workload, scan: ScanCells, grid, banks: int, chunks_touched: int) -> None:
    """Adds one scan update on ``grid`` (cells over ``banks`` banks) to ``workload``."""
    if isinstance(banks, bool) or not isinstance(banks, (int, np.integer)) or banks < 1:
        raise MappingError(f"banks must be a positive integer, got {banks!r}")
    dim = grid.n_dim
    rays, steps, visited = scan.rays, scan.dda_steps, scan.cells_visited
    updates = len(scan.cells)
    workload.add_ops("add", rays * (4 * dim - 1) + steps, 64)
    workload.add_ops("mul", rays * 3 * dim, 64)
    workload.add_ops("sqrt", rays, 64)
    workload.add_ops("div", rays * (dim + 1), 64)
    workload.add_ops("compare", rays * (dim + 1) + steps * 2 * dim, 64)
    workload.add_ops("add", steps + visited * (2 * dim - 1) + updates * dim, 32)
    workload.add_ops("mul", visited * (dim - 1), 32)
    workload.add_ops("compare", visited * 2 * dim + updates * 2, 32)
    workload.read(MARKS_BUFFER, visited, 8)
    workload.write(MARKS_BUFFER, visited, 8)
    workload.write(TOUCHED_BUFFER, updates, 32)
    workload.read(TOUCHED_BUFFER, updates, 32)
    workload.peak(MARKS_BUFFER, scan.window_cells)
    workload.peak(TOUCHED_BUFFER, 4 * updates)
    per_bank = np.bincount(bank_of(scan.cells, banks), minlength=banks)
    bank_bytes = -(-grid.memory_bytes // banks)
    for bank, count in enumerate(per_bank.tolist()):
        workload.read(bank_buffer(bank), count, 32)
        workload.write(bank_buffer(bank), count, 32)
        workload.peak(bank_buffer(bank), bank_bytes)
    if chunks_touched:
        workload.read(CHUNK_TABLE_BUFFER, chunks_touched, 64)
        workload.peak(CHUNK_TABLE_BUFFER, CHUNK_TABLE_ENTRY_BYTES * grid.n_chunks)

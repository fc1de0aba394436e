"""``navion sweep``: the algorithm x hardware co-design experiment.

A sweep spec (yaml) crosses algorithm knobs (fields of ``vio.pipeline.PipelineConfig``)
with hardware knobs (fields of ``accel_model.hardware.HardwareConfig``) and sequences.
Every point is a VIO replay (shared by all hardware points of one algorithm config and
sequence) priced on one hardware configuration.

Modules: ``knobs`` (dotted knob paths on config dataclasses), ``spec`` (loading,
validation, grid expansion), ``cache`` (keys and the on-disk cache), ``worker`` (one VIO
run and its pricing), ``executors`` (inline, local processes, Ray), ``pareto``,
``outputs`` (results.csv, pareto.png, ranked.md), ``runner`` (:func:`run_sweep`).
This module imports nothing heavy: ``navion.errors`` imports ``navion.sweep.errors``.
"""

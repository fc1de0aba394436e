"""The ROS-free node runtime: typed messages on a deterministic in-process bus.

``messages`` (stamped message types and standard topic names), ``bus`` (event queue
ordered by stamp then sequence number, bounded subscriber queues with drop policies),
``clock`` (data-driven simulated time, optional real-time pacing), ``node`` (node base
class and registry), ``launch`` (YAML launch files with includes and ``file:line``
validation), ``nodes/`` (player, vio, mapper, explorer, controller, simulator,
energy_monitor, recorder), ``run`` (running a launch into a run folder) and
``report_html`` (the run's self-contained report page).
See ``docs/runtime.md``.
"""

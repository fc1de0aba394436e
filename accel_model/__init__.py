"""Hardware model: what the VIO and mapping workloads would cost in silicon.

``accel_model.workload`` is the neutral record (operations by kind and bit width,
buffer traffic and peak sizes) that ``vio`` and ``mapping`` fill in; it imports nothing
of the project. The rest of the package prices those records and never imports ``vio``
or ``mapping``.
"""

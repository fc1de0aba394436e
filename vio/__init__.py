"""Stereo visual-inertial odometry modelled on the Navion chip.

``lie`` (SO(3)/SE(3) maps, quaternions), ``state`` (keyframe state and its 15-dim error
state), ``preintegration`` (on-manifold IMU preintegration), ``factors`` (IMU factor),
``_kernels`` (numba kernels of all of these), ``frontend`` and ``backend``.
"""

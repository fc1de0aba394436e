"""navion-sim: the command line and the ROS-free node runtime."""
__version__ = "0.1.0"

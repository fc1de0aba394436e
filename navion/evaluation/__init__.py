"""Trajectory evaluation with evo's definitions: association, Umeyama alignment, ATE, RPE.

``load_poses`` reads TUM and EuRoC files, ``evaluate`` returns an ``EvalResult``, and
``plot_trajectories``/``plot_errors`` draw it (matplotlib imported on first use).
"""
from .alignment import Sim3, umeyama
from .association import associate
from .errors import EvaluationError
from .metrics import ErrorStats
from .plots import plot_errors, plot_trajectories
from .poses import PoseSeries, load_poses
from .result import ALIGNMENTS, EvalResult, RpeResult, evaluate

__all__ = ["ALIGNMENTS", "ErrorStats", "EvalResult", "EvaluationError", "PoseSeries", "RpeResult",
           "Sim3", "associate", "evaluate", "load_poses", "plot_errors", "plot_trajectories", "umeyama"]

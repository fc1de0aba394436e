"""Errors the CLI reports as one line with exit code 2 (the user's own mistakes)."""
from accel_model.energy import EnergyModelError
from datasets.errors import DatasetError
from mapping.errors import MappingError
from vio.errors import VioError

from .evaluation.errors import EvaluationError
from .runtime.errors import LaunchError
from .sweep.errors import SweepError


class CliError(Exception):
    """A bad command-line argument combination or path."""


KNOWN_ERRORS: tuple[type[BaseException], ...] = (CliError, DatasetError, EvaluationError, EnergyModelError,
                                                 MappingError, SweepError, LaunchError, VioError)

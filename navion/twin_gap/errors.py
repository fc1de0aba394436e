"""The twin-gap package's own error type (the CLI prints it as one line, exit code 2)."""
from navion.errors import CliError


class TwinGapError(CliError):
    """Bad input to ``navion twin-gap``: no ground truth, spans that do not overlap, ...

    A CliError, so the ``navion`` command reports it like its other known errors."""

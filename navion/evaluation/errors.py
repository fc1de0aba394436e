"""The evaluation package's own exception type."""


class EvaluationError(Exception):
    """Trajectories that cannot be evaluated: no matched stamps, too few poses to align,
    an invalid option. The CLI prints it as one line (``navion: error: ...``, exit 2)."""

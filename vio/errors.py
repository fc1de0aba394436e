"""The VIO package's error type: a sequence or configuration the estimator cannot run with."""


class VioError(ValueError):
    """Unusable input for the VIO (calibration, configuration, frames); the CLI reports it in one line."""

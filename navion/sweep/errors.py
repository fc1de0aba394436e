"""The sweep's error type (spec mistakes are ``datasets.configuration.ConfigError``)."""


class SweepError(Exception):
    """A sweep cannot run: missing executor, a point failed on bad input, bad output folder."""

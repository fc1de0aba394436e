"""The mapping package's error type."""


class MappingError(ValueError):
    """Invalid mapping input: a bad map file, grid, sensor parameter or option (the message says which)."""

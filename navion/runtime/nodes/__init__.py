"""The shipped node types; importing this package registers them (see ``navion.runtime.node``)."""
from . import energy_monitor, player, recorder, vio  # noqa: F401

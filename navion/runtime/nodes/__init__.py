"""The shipped node types; importing this package registers them (see ``navion.runtime.node``)."""
from . import controller, energy_monitor, explorer, mapper, player, recorder, simulator, vio  # noqa: F401

"""Mapping: occupancy maps and the mutual information of range sensors on them.

``mapping.fsmi``: FSMI beam and sensor mutual information; ``mapping.mi_map``: the MI of
every free cell of a 2-D map (FCMI reuse) and the 2-D map file format; ``mapping.errors``:
``MappingError``. Details and sources: ``docs/mapping.md``.
"""

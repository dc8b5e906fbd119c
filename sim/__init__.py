"""Jingdezhen transition simulator: PySD models integrated with SciPy, scenarios, targets.

Rooms, each one job, imported only downwards (``docs/design.md``; ``tests/test_architecture.py``):

- :mod:`sim.errors`, :mod:`sim.provenance`, :mod:`sim.defaults`: the foundation (error
  types; results folders, manifests, hashes; project defaults);
- :mod:`sim.engine`: load a model through PySD, integrate with SciPy, the batch twin;
- :mod:`sim.modelfile`: read, units-check, document and draw ``.mdl`` files;
- :mod:`sim.policy`: scenario files, the lever registry, reading a whole study, targets and
  their measures (on arrays, one implementation);
- :mod:`sim.analysis`: calibration, uncertainty and ensembles, policy search, what-if;
- :mod:`sim.report`: figures in the bilingual house style, the table writer, the analyses'
  results folders;
- the faces: :mod:`sim.run` (the main job), :mod:`sim.cli`, :mod:`sim.plots`, :mod:`sim.explorer`.
"""
__version__ = "0.1.0"

from sim.engine import Event, LoadedModel, load_model, simulate  # noqa: E402
from sim.errors import ModelError, ParameterError, SimError, SimulationError  # noqa: E402

__all__ = ["Event", "LoadedModel", "ModelError", "ParameterError", "SimError",
           "SimulationError", "load_model", "simulate"]

"""Our generator (calibration_data/generator.py, a script rather than a package) loaded once
as a module, for the tests that build traces with it."""
import importlib.util

from repbelt import paths

_spec = importlib.util.spec_from_file_location("rb_generator", paths.CALIBRATION / "generator.py")
G = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(G)

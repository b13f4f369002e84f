# eventlet must patch the standard library first: tests/green.py, loaded as the first pytest plugin
# (pyproject addopts); imported here too for a run that bypasses those options.
import tests.green  # noqa: F401

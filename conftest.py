# eventlet must patch the standard library before anything opens a socket (nameko's pytest plugin
# no longer does it). Its deprecation warning is known (DESIGN.md §8).
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

"""The offers schemas live in services.offers.contracts (importable by the gateway without the service's
models or reference data); this name is kept for the modules that import it."""

from services.offers.contracts import *  # noqa: F401,F403

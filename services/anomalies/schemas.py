"""The anomalies schemas live in services.anomalies.contracts (importable by the gateway without the
service's models or domain modules); this name is kept for the modules that import it."""

from services.anomalies.contracts import *  # noqa: F401,F403

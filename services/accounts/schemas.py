"""The accounts schemas live in services.accounts.contracts (importable by the gateway without the
service's models); this name is kept for the modules that import it."""

from services.accounts.contracts import *  # noqa: F401,F403
from services.accounts.contracts import NationalProfessionalSchema  # noqa: F401

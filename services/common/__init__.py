"""Code shared by every service: config, region registry, errors, events, outbox, db session, CLI root."""

import warnings

# nameko needs eventlet, which warns on import that it is deprecated (DESIGN.md §8): known, not news
# to print on every command and service start.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

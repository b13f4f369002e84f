"""Code shared by every service: config, region registry, errors, events, outbox, db session, CLI root."""

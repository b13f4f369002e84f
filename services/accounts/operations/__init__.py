"""What the accounts service does, one module per concern, on a SQLAlchemy session and two ports
(plain Python, no nameko): the Keycloak `Directory` of the region (`ports`) and callables standing for
the offers service's RPCs.

- `codes`: activation codes issued to the professionals of the RPPS import (the URPS letters);
- `activation`: RPPS + code + password + e-mail → a Keycloak user, the code used;
- `email_verification`: the link of the activation e-mail;
- `password_reset`: "mot de passe oublié" and the support's reset e-mail;
- `ror_account`: the ROR account made at first connection, and the profile of GET /me;
- `habilitations`: roles on structures granted by the region's administrators.

Keycloak and the database cannot share a transaction, so each operation orders its steps to stay
consistent: the database is checked and prepared first, Keycloak is changed, then the entrypoint
commits (operations only flush: docs/CONVENTIONS.md); each Keycloak change registers its undo with
`services.common.db.on_rollback`, run when the transaction does not commit (compensation).
"""

"""The offers service's national data, asked over RPC from outside a service (CLI, demo loader).

Accounts never reads the offers tables: it asks the offers service on the running suite.
"""

from __future__ import annotations

from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.config import setting


class SuiteNotRunning(RuntimeError):
    """The suite (RabbitMQ or the offers service) does not answer; the message says what to do."""


PAGE = 1000


def every_professional(fetch_page) -> list[dict]:
    """All pages of `offers.national_professionals`, sorted by name for the mailing.
    `fetch_page(after_rpps, limit)` asks for one page (over whichever RPC client the caller has)."""
    people: list[dict] = []
    after = None
    while True:
        page = fetch_page(after, PAGE)
        people.extend(page)
        if len(page) < PAGE:
            break
        after = page[-1]["rpps"]
    return sorted(people, key=lambda p: (p["last_name"] or "", p["first_name"] or "", p["rpps"]))


def national_professionals(region: str, rpps: str | None = None, profession_code: str | None = None,
                           config: dict | None = None) -> list[dict]:
    return every_professional(lambda after, limit: call_offers(
        "national_professionals", region, rpps=rpps, profession_code=profession_code, after_rpps=after,
        limit=limit, config=config))


def structure_tree(region: str, config: dict | None = None) -> dict:
    return call_offers("structures", region, config=config)


def call_offers(method: str, *args, config: dict | None = None, **kwargs):
    amqp_uri = setting("ROR_AMQP_URI", config)
    timeout = float(setting("ROR_RPC_TIMEOUT", config))
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as cluster:
            return getattr(cluster.offers, method)(*args, **kwargs)
    except (OSError, OperationalError) as exc:  # TimeoutError is an OSError
        raise SuiteNotRunning(
            f"RabbitMQ ne répond pas ({amqp_uri.rsplit('@', 1)[-1]}) : démarrez la suite (make up). [{exc}]"
        ) from exc
    except UnknownService as exc:
        raise SuiteNotRunning("Le service offers n'est pas démarré : démarrez la suite (make up).") from exc
    except RpcTimeout as exc:
        raise SuiteNotRunning(f"Le service offers n'a pas répondu en {timeout:g} s.") from exc
    except RemoteError as exc:
        if exc.exc_type == "MethodNotFound":
            raise SuiteNotRunning(f"Le service offers ne fournit pas {method}.") from exc
        raise

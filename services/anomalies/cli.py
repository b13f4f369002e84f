"""`ror anomalies scan --region R`: run the rules engine now (the service's timer runs it too).

The command asks the running anomalies service over RPC, which asks the offers service for the facts:
no table of another service is read from here."""

from __future__ import annotations

import click
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.config import setting
from services.common.regions import REGIONS


@click.group()
def anomalies() -> None:
    """Anomalies: the rules engine."""


@anomalies.command()
@click.option("--region", required=True, type=click.Choice(sorted(REGIONS)))
@click.option("--timeout", type=click.FloatRange(1, 3600), default=120, show_default=True,
              help="Seconds to wait for the scan.")
def scan(region: str, timeout: float) -> None:
    """Raise the anomalies the rules find (once per rule, sheet and period); prints « N nouvelles »."""
    amqp_uri = setting("ROR_AMQP_URI")
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as cluster:
            result = cluster.anomalies.scan(region)
    except (OSError, OperationalError) as exc:
        raise click.ClickException(f"RabbitMQ ne répond pas : démarrez la suite (make up). [{exc}]") from exc
    except UnknownService as exc:
        raise click.ClickException("Le service anomalies n'est pas démarré : démarrez la suite (make up).") from exc
    except RpcTimeout as exc:
        raise click.ClickException(f"Le service anomalies n'a pas répondu en {timeout:g} s.") from exc
    except RemoteError as exc:
        raise click.ClickException(f"Échec de l'analyse : {exc}") from exc
    click.echo(f"{result['raised']} nouvelles")
    for rule_id, count in sorted(result["by_rule"].items()):
        click.echo(f"  {rule_id} : {count}")

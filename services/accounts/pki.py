"""Test PKI for development: a CA standing in for the IGC-Santé, server certificates, CPS card certificates.

Plain module (no nameko import) so that deploy scripts can run it before anything else:

    .venv/bin/python -m services.accounts.pki init                 # or: ror pki init
    .venv/bin/python -m services.accounts.pki server --host 127.0.0.1 --host localhost
    .venv/bin/python -m services.accounts.pki issue-cps --rpps 10101234564 --out /tmp/cps
                                                                    # or: ror pki issue-cps ...
The PKI directory defaults to ``$ROR_VAR_DIR/pki`` (``var/pki``).

A CPS certificate carries the national identifier of the professional, ``8`` + RPPS (12 characters),
in the subject: ``CN=8<RPPS>`` plus ``UID=8<RPPS>``, given name and surname. Keycloak's X.509
authenticators extract the RPPS with the regular expression ``CN=8(\\d{11})`` on the subject DN
and find the user whose attribute ``rpps`` has that value (see deploy/keycloak/README.md).

Nothing here is fit for production: keys are written unencrypted, there is no CRL/OCSP.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.common.identifiers import national_id

CA_NAME = "TEST AC IGC-SANTE"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server.key"
CA_DAYS = 3650
SERVER_DAYS = 825
CPS_DAYS = 1095
RPPS_RE = re.compile(r"^\d{11}$")


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


# ---- RPPS helpers -------------------------------------------------------------------------------


# ---- low-level helpers --------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_certs(path: Path, *certs: x509.Certificate) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


def load_cert(path: str | os.PathLike) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def _load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    files = ensure_ca(ca_dir)
    cert = load_cert(files.cert)
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    return cert, key


def _validity(days: int, not_before: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    start = not_before or (_now() - dt.timedelta(minutes=5))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=days)


def _leaf_builder(subject: x509.Name, public_key, ca_cert: x509.Certificate, ca_key, start, end):
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )


# ---- public API ---------------------------------------------------------------------------------


def ensure_ca(directory: str | os.PathLike, name: str = CA_NAME) -> CertFiles:
    """Create the test CA in ``directory`` (``ca.pem`` + ``ca.key``) unless it is already there.

    Idempotent: an existing CA is kept (everything issued before stays valid).
    """
    directory = Path(directory)
    files = CertFiles(directory / CA_CERT_FILE, directory / CA_KEY_FILE)
    if files.cert.exists() and files.key.exists():
        return files
    key = _new_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ROR DEV"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE TEST"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    start, end = _validity(CA_DAYS, None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(files.key, key)
    _write_certs(files.cert, cert)
    return files


def _server_cert_matches(path: Path, ca_cert: x509.Certificate, hosts: list[str]) -> bool:
    try:
        cert = load_cert(path)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    names = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    names |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    fresh = cert.not_valid_after_utc - _now() > dt.timedelta(days=30)
    return cert.issuer == ca_cert.subject and names == set(hosts) and fresh and _signed_by(cert, ca_cert)


def _signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except Exception:  # InvalidSignature, wrong key type...
        return False
    return True


def issue_server_cert(directory: str | os.PathLike, hosts: list[str] | tuple[str, ...]) -> CertFiles:
    """TLS server certificate for ``hosts`` (names or IP addresses), signed by the CA of ``directory``.

    Writes ``server.pem`` (leaf then CA) and ``server.key``; kept as is when a valid certificate
    for the same hosts, from the same CA, already exists.
    """
    directory = Path(directory)
    hosts = list(dict.fromkeys(hosts))
    if not hosts:
        raise ValueError("at least one host is needed")
    ca_cert, ca_key = _load_ca(directory)
    files = CertFiles(directory / SERVER_CERT_FILE, directory / SERVER_KEY_FILE)
    if files.key.exists() and _server_cert_matches(files.cert, ca_cert, hosts):
        return files
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    key = _new_key()
    start, end = _validity(SERVER_DAYS, None)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ROR DEV"),
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
        ]
    )
    cert = (
        _leaf_builder(subject, key.public_key(), ca_cert, ca_key, start, end)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(files.key, key)
    _write_certs(files.cert, cert, ca_cert)
    return files


def issue_cps_cert(
    ca_dir: str | os.PathLike,
    rpps: str,
    out_dir: str | os.PathLike,
    days: int = CPS_DAYS,
    *,
    not_before: dt.datetime | None = None,
    first_name: str = "PRENOM",
    last_name: str = "NOM",
    name: str | None = None,
) -> CertFiles:
    """Client (authentication) certificate of a CPS card for ``rpps``, signed by the CA of ``ca_dir``.

    ``days`` is the validity from ``not_before`` (default: now). To get an expired certificate, pass a
    ``not_before`` in the past with a short ``days``, e.g. ``not_before=now - 10 days, days=1``.
    Files: ``<out_dir>/<name>.pem`` and ``<name>.key``, ``name`` defaulting to ``cps-<rpps>``.
    The RPPS must be 11 digits; its Luhn check digit is not enforced (tests use unknown numbers).
    """
    if not RPPS_RE.match(rpps or ""):
        raise ValueError(f"RPPS must be 11 digits, got {rpps!r}")
    ca_cert, ca_key = _load_ca(Path(ca_dir))
    out_dir = Path(out_dir)
    name = name or f"cps-{rpps}"
    files = CertFiles(out_dir / f"{name}.pem", out_dir / f"{name}.key")
    nid = national_id(rpps)
    key = _new_key()
    start, end = _validity(days, not_before)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CPS TEST"),
            x509.NameAttribute(NameOID.SURNAME, last_name.upper()),
            x509.NameAttribute(NameOID.GIVEN_NAME, first_name.upper()),
            x509.NameAttribute(NameOID.USER_ID, nid),
            x509.NameAttribute(NameOID.COMMON_NAME, nid),
        ]
    )
    cert = (
        _leaf_builder(subject, key.public_key(), ca_cert, ca_key, start, end)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(files.key, key)
    _write_certs(files.cert, cert)
    return files


# ---- command line: `ror pki ...` (group registered by services/accounts/cli.py) and
# `python -m services.accounts.pki ...` (used by deploy/keycloak/start.sh) -----------------------


def default_pki_dir() -> Path:
    """``$ROR_VAR_DIR/pki`` (default ``<repo>/var/pki``), where start.sh keeps the test CA."""
    var = os.environ.get("ROR_VAR_DIR") or str(Path(__file__).resolve().parents[2] / "var")
    return Path(var) / "pki"


@click.group(name="pki")
def pki_group() -> None:
    """Test PKI: CA "TEST AC IGC-SANTE", server certificate, CPS card certificates."""


@pki_group.command("init")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="PKI directory (default: $ROR_VAR_DIR/pki).")
def init_command(directory: Path | None) -> None:
    """Create the test CA (ca.pem, ca.key) unless it exists."""
    files = ensure_ca(directory or default_pki_dir())
    click.echo(str(files.cert))


@pki_group.command("server")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="PKI directory (default: $ROR_VAR_DIR/pki).")
@click.option("--host", "hosts", multiple=True, required=True, help="DNS name or IP address (repeatable).")
def server_command(directory: Path | None, hosts: tuple[str, ...]) -> None:
    """Issue (or keep, when still valid for the same hosts) the TLS server certificate."""
    files = issue_server_cert(directory or default_pki_dir(), list(hosts))
    click.echo(str(files.cert))
    click.echo(str(files.key))


@pki_group.command("issue-cps")
@click.option("--rpps", required=True, help="RPPS number (11 digits).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for cps-<rpps>.pem and cps-<rpps>.key.")
@click.option("--ca-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of the test CA (default: $ROR_VAR_DIR/pki; created if missing).")
@click.option("--days", type=int, default=CPS_DAYS, show_default=True, help="Validity in days.")
@click.option("--first-name", default="PRENOM", show_default=True)
@click.option("--last-name", default="NOM", show_default=True)
def issue_cps_command(rpps: str, out_dir: Path, ca_dir: Path | None, days: int, first_name: str,
                      last_name: str) -> None:
    """Issue a CPS card certificate (CN = 8 + RPPS) signed by the test CA.

    Log in with it: curl --cert cps-<rpps>.pem --key cps-<rpps>.key --cacert <ca-dir>/ca.pem
    -d grant_type=password -d client_id=ror-cps https://127.0.0.1:8443/realms/ror-idf/protocol/openid-connect/token
    """
    try:
        files = issue_cps_cert(ca_dir or default_pki_dir(), rpps, out_dir, days=days,
                               first_name=first_name, last_name=last_name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rpps") from exc
    click.echo(str(files.cert))
    click.echo(str(files.key))


if __name__ == "__main__":
    pki_group(prog_name="python -m services.accounts.pki")

"""Server TLS and mutual TLS from PEM files, checked before the port opens.

``tls_cert`` + ``tls_key`` turn TLS on; ``tls_client_ca`` adds mutual TLS (clients must
present a certificate that chains to it, or the handshake fails). Anything incomplete or
unreadable stops the server at start with a message naming the setting, never a server
that quietly listens in the clear or fails at the first handshake.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from polybrief.service.settings import Settings


class TlsConfigError(ValueError):
    """The TLS settings cannot work; the message names the setting."""


def _read(name: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"{name}: cannot read {path}: {exc.strerror}") from exc


def _certificates(name: str, path: Path) -> bytes:
    """The PEM file's bytes, once they are known to hold at least one certificate."""
    data = _read(name, path)
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsConfigError(f"{name}: {path} holds no PEM certificate") from exc
    return data


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """Credentials for the listening port, or None when TLS is off."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    chain_pem = _certificates("tls_cert", settings.tls_cert)
    key_pem = _read("tls_key", settings.tls_key)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TlsConfigError(
            f"tls_key: {settings.tls_key} is not an unencrypted PEM private key"
        ) from exc
    leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    if key.public_key() != leaf.public_key():
        raise TlsConfigError("tls_key does not belong to the first certificate of tls_cert")
    client_ca = None
    if settings.tls_client_ca is not None:
        client_ca = _certificates("tls_client_ca", settings.tls_client_ca)
    return grpc.ssl_server_credentials(
        [(key_pem, chain_pem)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )

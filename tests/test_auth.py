"""Authentication: API keys (hashed, per-key quotas), TLS and mutual TLS, on real servers
with real certificates made for the test."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from polybrief.client import Client, OverloadedError
from polybrief.service.middleware import auth as auth_module
from polybrief.service.middleware.auth import KeyFileError, KeyStore, entry_for, new_key
from polybrief.service.server.tls import TlsConfigError, server_credentials
from polybrief.service.settings import Settings
from polybrief.v1 import polybrief_pb2 as pb
from polybrief.v1 import polybrief_pb2_grpc
from pydantic import ValidationError
from server_harness import ServerThread, subset_catalog

# ----------------------------------------------------------------------------- API keys


def test_key_file_holds_digests_and_identifies_keys(tmp_path: Path) -> None:
    key, other = new_key(), new_key()
    path = tmp_path / "keys.toml"
    path.write_text(entry_for("desk", key) + "requests_per_minute = 5\n", encoding="utf-8")
    assert key not in path.read_text()
    store = KeyStore.load(path)
    found = store.identify(key)
    assert found is not None
    assert found.id == "desk"
    assert found.requests_per_minute == 5
    assert store.identify(other) is None
    assert store.identify("") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no [[key]] entries"),
        ('[[key]]\nid = "a"\n', "key[0].sha256"),
        ('[[key]]\nid = "a"\nsha256 = "zz"\n', "key[0].sha256"),
        ('[[key]]\nid = "a"\nsha256 = "' + "g" * 64 + '"\n', "not hex"),
        ('[[key]]\nsha256 = "' + "a" * 64 + '"\n', "key[0].id"),
        ('[[key]]\nid = "a"\nsha256 = "' + "a" * 64 + '"\nrequests_per_minute = 0\n', "positive"),
        ('[[key]]\nid = "a"\nsha256 = "' + "a" * 64 + '"\ncolour = "red"\n', "colour"),
        ("[[keys]]\n", "unknown table"),
        ("not toml =", "keys.toml"),
    ],
    ids=[
        "empty",
        "no-digest",
        "short-digest",
        "not-hex",
        "no-id",
        "zero-quota",
        "typo",
        "table",
        "syntax",
    ],
)
def test_key_file_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KeyFileError, match=message.replace("[", r"\[")):
        KeyStore.load(path)


@dataclass
class Keys:
    unlimited: str
    few_requests: str
    few_characters: str


@pytest.fixture(scope="module")
def catalog(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("auth") / "catalog.toml"
    return subset_catalog(tiny_dir, out, ["tiny-marian-en-fr"])


@pytest.fixture(scope="module")
def keyed(
    catalog: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerThread, Keys]]:
    keys = Keys(new_key(), new_key(), new_key())
    path = tmp_path_factory.mktemp("keys") / "keys.toml"
    path.write_text(
        entry_for("unlimited", keys.unlimited)
        + entry_for("few-requests", keys.few_requests)
        + "requests_per_minute = 3\n"
        + entry_for("few-characters", keys.few_characters)
        + "characters_per_minute = 100\n",
        encoding="utf-8",
    )
    server = ServerThread(catalog, api_keys=path)
    yield server, keys
    server.stop()


def _translate(
    address: str, key: str | None, text: str = "Ships sail.", stream: bool = False
) -> Any:
    """Translate's reply (StreamTranslate's events with ``stream``), or its error."""
    with grpc.insecure_channel(address) as channel:
        stub = polybrief_pb2_grpc.PolybriefStub(channel)
        metadata = (("authorization", f"Bearer {key}"),) if key is not None else ()
        request = pb.TranslateRequest(texts=[text], target_language="fr", source_language="en")
        try:
            if stream:
                return list(stub.StreamTranslate(request, metadata=metadata, timeout=30))
            return stub.Translate(request, metadata=metadata, timeout=30)
        except grpc.RpcError as error:
            return error


@pytest.mark.parametrize(
    "key", [None, "wrong", "Bearer", ""], ids=["none", "wrong", "odd", "empty"]
)
def test_calls_without_a_known_key_are_refused_before_any_model(
    keyed: tuple[ServerThread, Keys], key: str | None
) -> None:
    server, _ = keyed
    stats = server.engine.runner.batcher.stats
    submitted = stats.submitted
    error = _translate(server.address, key)
    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert stats.submitted == submitted  # no segment reached the inference queue


def test_a_known_key_is_served(keyed: tuple[ServerThread, Keys]) -> None:
    server, keys = keyed
    reply = _translate(server.address, keys.unlimited)
    assert isinstance(reply, pb.TranslateResponse)
    assert reply.translations[0].text


def test_streams_need_a_key_like_unary_calls(keyed: tuple[ServerThread, Keys]) -> None:
    server, keys = keyed
    stats = server.engine.runner.batcher.stats
    submitted = stats.submitted
    refused = _translate(server.address, None, stream=True)
    assert isinstance(refused, grpc.RpcError)
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert stats.submitted == submitted
    events = _translate(server.address, keys.unlimited, stream=True)
    assert not isinstance(events, grpc.RpcError), events
    assert [e.WhichOneof("event") for e in events] == ["translation", "done"]


class QuotaClock:
    """The clock the quotas read, standing still unless a test moves it: how long the
    calls take (the machine's speed) then refills nothing."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def quota_clock(monkeypatch: pytest.MonkeyPatch) -> QuotaClock:
    clock = QuotaClock()
    monkeypatch.setattr(auth_module, "time", clock)  # the server runs in this process
    return clock


def _quota_failure(error: grpc.RpcError) -> tuple[str, float]:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    quota, retry = error_details_pb2.QuotaFailure(), error_details_pb2.RetryInfo()
    unpacked = {d.type_url.rsplit(".", 1)[-1] for d in status.details}
    assert unpacked == {"QuotaFailure", "RetryInfo"}
    for detail in status.details:
        detail.Unpack(quota if detail.Is(quota.DESCRIPTOR) else retry)
    return quota.violations[0].subject, retry.retry_delay.ToTimedelta().total_seconds()


def test_a_key_over_its_request_quota_is_resource_exhausted(
    keyed: tuple[ServerThread, Keys], quota_clock: QuotaClock
) -> None:
    server, keys = keyed
    for _ in range(3):
        assert isinstance(_translate(server.address, keys.few_requests), pb.TranslateResponse)
    error = _translate(server.address, keys.few_requests)
    subject, retry = _quota_failure(error)
    assert subject == "api_key:few-requests"
    assert retry == pytest.approx(20)  # 3 a minute: one more in 20 s
    client = Client(server.address, api_key=keys.few_requests, timeout=30)
    with client, pytest.raises(OverloadedError) as over:
        client.translate(["Ships sail."], to="fr", source="en")
    assert over.value.quota_violations[0][0] == "api_key:few-requests"
    assert over.value.retry_after is not None
    assert isinstance(_translate(server.address, keys.unlimited), pb.TranslateResponse)
    quota_clock.advance(retry)  # refilled by one call, not more
    assert isinstance(_translate(server.address, keys.few_requests), pb.TranslateResponse)
    assert isinstance(_translate(server.address, keys.few_requests), grpc.RpcError)


def test_a_key_over_its_character_quota_is_resource_exhausted(
    keyed: tuple[ServerThread, Keys], quota_clock: QuotaClock
) -> None:
    server, keys = keyed
    assert isinstance(
        _translate(server.address, keys.few_characters, "a" * 60), pb.TranslateResponse
    )
    stats = server.engine.runner.batcher.stats
    submitted = stats.submitted
    error = _translate(server.address, keys.few_characters, "b" * 60)
    subject, retry = _quota_failure(error)
    assert subject == "api_key:few-characters"
    assert stats.submitted == submitted
    assert retry == pytest.approx(12)  # 100 a minute: the 20 missing ones take 12 s
    quota_clock.advance(retry)
    assert isinstance(
        _translate(server.address, keys.few_characters, "b" * 60), pb.TranslateResponse
    )


def test_health_stays_open_and_reflection_needs_a_key(keyed: tuple[ServerThread, Keys]) -> None:
    server, keys = keyed
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as refused:
            list(reflect.ServerReflectionInfo(iter([request]), timeout=10))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        metadata = (("authorization", f"Bearer {keys.unlimited}"),)
        replies = list(reflect.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=10))
    names = {s.name for s in replies[0].list_services_response.service}
    assert "polybrief.v1.Polybrief" in names


# ----------------------------------------------------------------------------- TLS


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    out = tmp_path_factory.mktemp("pki")
    ca_key, server_key, client_key = _key(), _key(), _key()
    ca = _certificate("polybrief test CA", ca_key, None, ca_key, ca=True)
    pem = serialization.Encoding.PEM
    (out / "ca.pem").write_bytes(ca.public_bytes(pem))
    server = _certificate("localhost", server_key, ca.subject, ca_key, server=True)
    (out / "server.pem").write_bytes(server.public_bytes(pem))
    client = _certificate("newsdesk", client_key, ca.subject, ca_key)
    (out / "client.pem").write_bytes(client.public_bytes(pem))
    return Pki(
        ca=out / "ca.pem",
        server_cert=out / "server.pem",
        server_key=_write_key(out / "server.key", server_key),
        client_cert=out / "client.pem",
        client_key=_write_key(out / "client.key", client_key),
        stranger_key=_write_key(out / "stranger.key", _key()),
    )


def _health_over(address: str, credentials: grpc.ChannelCredentials | None) -> Any:
    channel = (
        grpc.secure_channel(address, credentials)
        if credentials is not None
        else grpc.insecure_channel(address)
    )
    with channel:
        try:
            return health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        except grpc.RpcError as error:
            return error


def test_tls_serves_trusting_clients_and_refuses_plaintext(catalog: Path, pki: Pki) -> None:
    server = ServerThread(catalog, tls_cert=pki.server_cert, tls_key=pki.server_key)
    address = f"localhost:{server.running.port}"
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
        assert _health_over(address, trusted).status == health_pb2.HealthCheckResponse.SERVING
        plaintext = _health_over(address, None)
        assert plaintext.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


def test_mutual_tls_fails_the_handshake_without_a_client_certificate(
    catalog: Path, pki: Pki
) -> None:
    server = ServerThread(
        catalog,
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.ca,
        health_port=0,
    )
    address = f"localhost:{server.running.port}"
    ca = pki.ca.read_bytes()
    try:
        anonymous = _health_over(address, grpc.ssl_channel_credentials(root_certificates=ca))
        assert anonymous.code() == grpc.StatusCode.UNAVAILABLE
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=pki.client_key.read_bytes(),
            certificate_chain=pki.client_cert.read_bytes(),
        )
        assert _health_over(address, with_cert).status == health_pb2.HealthCheckResponse.SERVING
        # probes that cannot do mutual TLS use the plaintext health-only port
        probe = f"127.0.0.1:{server.running.probe_port}"
        assert _health_over(probe, None).status == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(probe) as channel:
            stub = polybrief_pb2_grpc.PolybriefStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.ListCapabilities(pb.ListCapabilitiesRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        server.stop()


def test_half_configured_tls_refuses_to_start(tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(ValidationError, match="tls_cert and tls_key"):
        Settings(tls_cert=pki.server_cert)
    with pytest.raises(ValidationError, match="tls_client_ca"):
        Settings(tls_client_ca=pki.ca)
    with pytest.raises(ValidationError, match="not a readable file"):
        Settings(tls_cert=tmp_path / "missing.pem", tls_key=pki.server_key)
    with pytest.raises(TlsConfigError, match="does not belong"):
        server_credentials(Settings(tls_cert=pki.server_cert, tls_key=pki.stranger_key))
    with pytest.raises(TlsConfigError, match="no PEM certificate"):
        server_credentials(Settings(tls_cert=pki.server_key, tls_key=pki.server_key))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "polybrief.service.cli",
            "serve",
            "--tls-cert",
            str(pki.server_cert),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "ConfigError" in done.stderr
    assert "tls_key" in done.stderr
    assert "Traceback" not in done.stderr

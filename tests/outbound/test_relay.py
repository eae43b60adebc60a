"""The relay client against real aiosmtpd servers: STARTTLS, AUTH, implicit TLS, refusals."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from intake.core.relay import RelayError, parse_relay_url, relay_config, send_raw
from intake.errors import ConfigError
from tests.outbound.conftest import Relay

RAW = b"From: a@shop.example\r\nTo: b@customer.org\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the tests trust it explicitly)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"relay@shop.example", b"s3cr:t")
    # handled=False: aiosmtpd answers a refusal with 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture
def starttls_relay(certificate: tuple[Path, Path]) -> Iterator[Relay]:
    server = Relay(tls_context=server_context(certificate), authenticator=authenticator).start()
    yield server
    server.stop()


def test_starttls_then_auth_when_credentials_are_given(
    starttls_relay: Relay, certificate: tuple[Path, Path]
) -> None:
    config = parse_relay_url(
        f"smtp://relay%40shop.example:s3cr%3At@127.0.0.1:{starttls_relay.port}"
    )
    answer = send_raw(
        config, "a@shop.example", ["b@customer.org"], RAW, tls_context=trusting(certificate)
    )
    assert answer == "250 2.0.0 Ok: queued as TEST1"
    (mail,) = starttls_relay.received
    assert mail.tls and mail.login == "relay@shop.example"
    assert mail.raw == RAW and mail.recipients == ["b@customer.org"]


def test_a_wrong_password_is_a_permanent_failure_with_the_relays_answer(
    starttls_relay: Relay, certificate: tuple[Path, Path]
) -> None:
    config = parse_relay_url(f"smtp://relay%40shop.example:wrong@127.0.0.1:{starttls_relay.port}")
    with pytest.raises(RelayError) as error:
        send_raw(
            config, "a@shop.example", ["b@customer.org"], RAW, tls_context=trusting(certificate)
        )
    assert error.value.permanent
    assert str(error.value).startswith("AUTH: 535 ")
    assert starttls_relay.received == []


def test_an_untrusted_certificate_is_refused_and_may_be_retried(starttls_relay: Relay) -> None:
    config = parse_relay_url(f"smtp://127.0.0.1:{starttls_relay.port}")
    with pytest.raises(RelayError) as error:
        send_raw(config, "a@shop.example", ["b@customer.org"], RAW)  # the system's trust store
    assert "CERTIFICATE_VERIFY_FAILED" in str(error.value)
    assert not error.value.permanent
    assert starttls_relay.received == []


def test_implicit_tls_with_smtps(certificate: tuple[Path, Path]) -> None:
    server = Relay(ssl_context=server_context(certificate)).start()
    try:
        config = parse_relay_url(f"smtps://127.0.0.1:{server.port}")
        send_raw(
            config, "a@shop.example", ["b@customer.org"], RAW, tls_context=trusting(certificate)
        )
        (mail,) = server.received
        assert mail.tls and mail.login is None
    finally:
        server.stop()


def test_credentials_for_a_relay_that_offers_no_auth_are_a_configuration_error(
    relay: Relay,
) -> None:
    # A plain relay (no STARTTLS) does not offer AUTH: credentials would travel in clear text.
    config = parse_relay_url(f"smtp://user:pw@127.0.0.1:{relay.port}")
    with pytest.raises(RelayError, match="offers no AUTH") as error:
        send_raw(config, "a@shop.example", ["b@customer.org"], RAW)
    assert error.value.permanent


def test_urls_and_their_defaults() -> None:
    assert parse_relay_url("smtp://mail.example.com").port == 25
    smtps = parse_relay_url("smtps://u:p%40ss@mail.example.com")
    assert (smtps.port, smtps.implicit_tls, smtps.username, smtps.password) == (
        465,
        True,
        "u",
        "p@ss",
    )
    assert smtps.display == "smtps://u@mail.example.com:465"  # never the password
    for bad in ("http://mail.example.com", "smtp://", "smtp://host:99999"):
        with pytest.raises(ConfigError):
            parse_relay_url(bad)
    with pytest.raises(RelayError, match="no outbound relay configured") as error:
        relay_config(None)
    assert error.value.permanent

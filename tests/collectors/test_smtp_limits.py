"""SMTP limits: the pure rules, then abuse against a real aiosmtpd server on a free port.

Abusers connect from 127.0.0.1 and the normal client from 127.0.0.2 (Linux routes all of
127/8 to loopback), so per-IP limits tell them apart. Loopback is trusted by default, so these
servers set ``INTAKE_SMTP_TRUSTED_NETWORKS=none``.
"""

from __future__ import annotations

import datetime
import logging
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from intake.collectors.smtp import make_controller
from intake.collectors.smtp_limits import (
    FREE_MESSAGE_BYTES,
    ConnectionGate,
    DataBudget,
    RateWindow,
    StreamGuard,
    client_key,
    is_trusted,
    parse_networks,
)
from intake.core.db.models import Message
from intake.core.runtime import Runtime
from intake.core.settings import load_settings
from intake.errors import ConfigError
from tests.conftest import free_port, make_runtime
from tests.mailfactory import make_mail

NORMAL = "127.0.0.2"  # the well-behaved client's address
UNTRUSTED = {"INTAKE_SMTP_TRUSTED_NETWORKS": "none"}


# --- the pure rules ------------------------------------------------------------------------


def test_client_key_counts_ipv6_by_slash_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("not-an-address") == "not-an-address"


def test_trusted_networks_match_addresses_and_mapped_ipv4() -> None:
    networks = parse_networks(["127.0.0.0/8", "::1/128"])
    assert is_trusted("127.0.0.9", networks) and is_trusted("::1", networks)
    assert is_trusted("::ffff:127.0.0.1", networks)
    assert not is_trusted("192.0.2.7", networks) and not is_trusted("", networks)


def test_gate_limits_per_client_and_in_total_and_forgets_released_clients() -> None:
    gate = ConnectionGate(max_total=4, max_per_client=2, trusted=parse_networks(["10.0.0.0/8"]))
    first, second = gate.admit("192.0.2.1"), gate.admit("192.0.2.1")
    assert first == second == "192.0.2.1"
    assert gate.admit("192.0.2.1") is None  # third from one client
    assert gate.admit("10.1.1.1") == "" and gate.admit("10.1.1.1") == ""  # trusted: total only
    assert gate.total == 4 and gate.admit("198.51.100.1") is None  # total reached
    gate.release("")
    assert gate.admit("198.51.100.1") == "198.51.100.1"
    for key in ("192.0.2.1", "192.0.2.1", "198.51.100.1"):
        gate.release(key)
    assert gate.per_client == {} and gate.total == 1


def test_rate_window_slides_and_sweeps_idle_clients() -> None:
    window = RateWindow(limit=2, window=60.0)
    assert window.allow("a", 0.0) and window.allow("a", 10.0)
    assert not window.allow("a", 59.0)  # the refusal is not counted as an event
    assert window.allow("b", 59.0)  # other clients are unaffected
    assert window.allow("a", 60.5)  # the event at 0.0 left the window
    assert not window.allow("a", 61.0)
    assert window.full("a", 61.0) and not window.full("a", 70.5) and not window.full("c", 0.0)
    window.sweep(200.0)
    assert window.events == {}


def test_stream_guard_bounds_command_lines_data_lines_and_message_bytes() -> None:
    guard = StreamGuard(max_data_line=1000, max_data_bytes=4000, max_command_line=100)
    assert guard.feed(b"EHLO x\r\nNOOP " + b"y" * 50) is None
    assert guard.feed(b"y" * 43 + b"\r\n") is None  # 5 + 50 + 43 + 2 = 100: at the limit
    assert guard.feed(b"z" * 100 + b"\r\n") == "500 5.5.2 Command line too long, closing connection"
    guard = StreamGuard(max_data_line=1000, max_data_bytes=4000, max_command_line=100)
    assert guard.feed(b"NOOP " + b"y" * 50) is None
    assert guard.feed(b"y" * 50) == "500 5.5.2 Command line too long, closing connection"

    guard = StreamGuard(max_data_line=1000, max_data_bytes=4000, max_command_line=100)
    guard.start_data()
    assert guard.feed(b"z" * 998 + b"\r\n" + b"z" * 500) is None  # lines of 1000 may pass
    assert guard.feed(b"z" * 501).startswith("500 5.5.2 Line too long")  # type: ignore[union-attr]

    guard = StreamGuard(max_data_line=1000, max_data_bytes=4000, max_command_line=100)
    guard.start_data()
    line = b"w" * 98 + b"\r\n"
    for _ in range(50):
        assert guard.feed(line) is None  # 5,000 octets: within the 1 KiB slack past the limit
    assert guard.feed(line * 2) == "552 5.3.4 Message too big, closing connection"
    guard.end_data()
    assert not guard.in_data


def test_settings_defaults_and_refusals() -> None:
    limits = load_settings({}).smtp
    assert (limits.max_command_bytes, limits.max_recipients) == (512, 100)
    assert limits.trusted_networks == ("127.0.0.0/8", "::1/128")
    assert load_settings({"INTAKE_SMTP_TRUSTED_NETWORKS": "none"}).smtp.trusted_networks == ()
    for env in (
        {"INTAKE_SMTP_TLS_CERT": "/x.pem"},
        {"INTAKE_SMTP_REQUIRE_TLS": "true"},
        {"INTAKE_SMTP_AUTH_USER": "relay"},
        {"INTAKE_SMTP_AUTH_USER": "relay", "INTAKE_SMTP_AUTH_PASSWORD": "pw"},  # no TLS
        {"INTAKE_SMTP_AUTH_REQUIRED": "true"},
        {"INTAKE_SMTP_TRUSTED_NETWORKS": "10.0.0.0/33"},
        {"INTAKE_SMTP_MAX_COMMAND_BYTES": "100"},
    ):
        with pytest.raises(ConfigError):
            load_settings(env)


# --- a real server -------------------------------------------------------------------------


@contextmanager
def smtp_server(tmp_path: Path, sqlite_url: str, redis_url: str, **env: str) -> Iterator[int]:
    runtime = make_runtime(tmp_path, sqlite_url, redis_url, **env)
    port = free_port()
    controller = make_controller(runtime, "127.0.0.1", port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
        runtime.close()


def stored(tmp_path: Path, sqlite_url: str, redis_url: str) -> int:
    runtime: Runtime = make_runtime(tmp_path, sqlite_url, redis_url)
    try:
        with runtime.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Message)) or 0)
    finally:
        runtime.close()


def normal_client_sends(port: int, subject: str = "Still served") -> None:
    """A well-behaved client from its own address; raises unless its message got 250."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(NORMAL, 0)) as client:
        assert (
            client.sendmail("bob@customer.org", ["support@example.com"], make_mail(subject=subject))
            == {}
        )


def raw_connection(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return sock


def read_reply(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_long_command_lines_get_500_and_a_huge_one_closes_the_connection(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    with smtp_server(tmp_path, sqlite_url, redis_url) as port:
        with raw_connection(port) as sock:
            assert read_reply(sock).startswith(b"220")
            sock.sendall(b"NOOP " + b"x" * 600 + b"\r\n")  # over 512: refused, session goes on
            assert read_reply(sock).startswith(b"500")
            sock.sendall(b"NOOP\r\n")
            assert read_reply(sock).startswith(b"250")
            sock.sendall(b"NOOP " + b"x" * 20_000)  # no command is this long: closed at once
            assert read_reply(sock).startswith(b"500 5.5.2 Command line too long")
            assert closed_by_server(sock, within=5)
        normal_client_sends(port)


def send_without_line_end(port: int, total: int, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """Start a message and send ``total`` octets with no line end; (octets sent, reply)."""
    sent = 0
    with raw_connection(port, source) as sock:
        replies = sock.makefile("rb")
        for command in (
            b"",
            b"EHLO abuser\r\n",
            b"MAIL FROM:<a@b.c>\r\n",
            b"RCPT TO:<support@example.com>\r\n",
            b"DATA\r\n",
        ):
            if command:
                sock.sendall(command)
            while (reply := replies.readline())[3:4] == b"-":
                pass  # the EHLO reply has several lines
        assert reply.startswith(b"354"), reply
        chunk = b"A" * 65536
        try:
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # closed by the server under us, as it should
            pass
        try:
            sock.settimeout(5)
            reply = replies.readline()
        except OSError:
            reply = b""
        replies.close()
    return sent, reply


def test_a_24_mb_data_line_without_line_end_is_refused_early(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    with smtp_server(tmp_path, sqlite_url, redis_url) as port:
        sent, reply = send_without_line_end(port, 24 * 1024 * 1024)
        print(f"sent {sent / 2**20:.1f} MiB of 24 before the server closed; reply {reply!r}")
        # The server closed after the 1 MiB line limit; the rest is what socket buffers took.
        assert sent < 12 * 1024 * 1024, sent
        assert reply in (
            b"",
            b"500 5.5.2 Line too long (RFC 5321 4.5.3.1.6), closing connection\r\n",
        )
        normal_client_sends(port)
    assert stored(tmp_path, sqlite_url, redis_url) == 1


def test_connections_per_ip_and_in_total_get_421_and_others_are_still_served(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    env = {
        **UNTRUSTED,
        "INTAKE_SMTP_MAX_CONNECTIONS_PER_IP": "3",
        "INTAKE_SMTP_MAX_CONNECTIONS": "6",
    }
    with smtp_server(tmp_path, sqlite_url, redis_url, **env) as port:
        held = [raw_connection(port) for _ in range(3)]
        assert all(read_reply(sock).startswith(b"220") for sock in held)
        with raw_connection(port) as extra:
            assert read_reply(extra) == b"421 4.7.0 Too many connections, try again later\r\n"
            assert closed_by_server(extra, within=5)
        normal_client_sends(port)  # another address is not affected
        held[0].close()
        time.sleep(0.2)  # the server notices the close
        with raw_connection(port) as again:
            assert read_reply(again).startswith(b"220")  # the slot was given back
        held += [raw_connection(port, f"127.0.0.{n}") for n in (3, 4, 5)]
        assert all(read_reply(sock).startswith(b"220") for sock in held[-3:])
        with raw_connection(port, "127.0.0.9") as sixth:  # 2 + 3 open, this is the 6th
            assert read_reply(sixth).startswith(b"220")
            with raw_connection(port, "127.0.0.10") as seventh:
                assert read_reply(seventh).startswith(b"421 4.7.0")
        for sock in held:
            sock.close()


def test_the_101st_recipient_gets_452_and_the_message_goes_to_the_first_100(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    recipients = [f"support+{n}@example.com" for n in range(101)]
    with smtp_server(tmp_path, sqlite_url, redis_url) as port:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            refused = client.sendmail("alice@customer.org", recipients, make_mail())
    assert list(refused) == [recipients[100]]
    assert refused[recipients[100]] == (452, b"4.5.3 Too many recipients")
    assert stored(tmp_path, sqlite_url, redis_url) == 1


def test_messages_per_minute_per_ip_get_450_while_others_and_trusted_ones_are_served(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    env = {**UNTRUSTED, "INTAKE_SMTP_MESSAGES_PER_MINUTE": "2"}
    with smtp_server(tmp_path, sqlite_url, redis_url, **env) as port:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            for n in range(2):
                client.sendmail(
                    "a@customer.org", ["support@example.com"], make_mail(subject=f"{n}")
                )
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("a@customer.org", ["support@example.com"], make_mail())
            assert refused.value.smtp_code == 450
            assert refused.value.smtp_error.startswith(b"4.7.1")
        normal_client_sends(port)
    # Loopback is trusted by default: the same three messages all pass.
    with smtp_server(tmp_path, sqlite_url, redis_url, INTAKE_SMTP_MESSAGES_PER_MINUTE="2") as port:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            for n in range(3):
                client.sendmail(
                    "a@customer.org", ["support@example.com"], make_mail(subject=f"t{n}")
                )
    assert stored(tmp_path, sqlite_url, redis_url) == 6


def test_idle_and_slow_clients_are_disconnected_while_others_are_served(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    env = {"INTAKE_SMTP_TIMEOUT": "1", "INTAKE_SMTP_DATA_TIMEOUT": "2"}
    with smtp_server(tmp_path, sqlite_url, redis_url, **env) as port:
        with raw_connection(port) as idle, raw_connection(port) as slow:
            connected = time.monotonic()
            assert read_reply(idle).startswith(b"220") and read_reply(slow).startswith(b"220")
            for command in (
                b"HELO slow\r\n",
                b"MAIL FROM:<a@b.c>\r\n",
                b"RCPT TO:<support@example.com>\r\n",
                b"DATA\r\n",
            ):
                slow.sendall(command)
                assert read_reply(slow)[:1] in (b"2", b"3")
            data_started = time.monotonic()
            normal_client_sends(port)
            assert closed_by_server(idle, within=3)
            assert time.monotonic() - connected > 0.8  # closed by the 1 s timeout, not at once
            # The slow one drips a line every 0.3 s: it outlives the 1 s command timeout (the
            # message has its own deadline) and is cut at the 2 s DATA deadline.
            slow.settimeout(0.3)
            closed_at = None
            while closed_at is None and time.monotonic() - data_started < 8:
                try:
                    slow.sendall(b"drip\r\n")
                    if slow.recv(1) == b"":
                        closed_at = time.monotonic()
                except TimeoutError:
                    continue
                except OSError:
                    closed_at = time.monotonic()
            assert closed_at is not None
            assert 1.5 < closed_at - data_started < 5, closed_at - data_started
    assert stored(tmp_path, sqlite_url, redis_url) == 1


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    return context


def auth_plain(client: smtplib.SMTP, user: str, password: str) -> None:
    """One AUTH PLAIN (``login`` would try every mechanism, two attempts per call)."""
    client.user, client.password = user, password
    client.auth("PLAIN", client.auth_plain)


def test_starttls_can_be_required_and_auth_is_offered_only_over_tls(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    cert, key = self_signed(tmp_path)
    password = tmp_path / "relay-password"
    password.write_text("s3cret relay password\n")
    env = {
        "INTAKE_SMTP_TLS_CERT": str(cert),
        "INTAKE_SMTP_TLS_KEY": str(key),
        "INTAKE_SMTP_REQUIRE_TLS": "true",
        "INTAKE_SMTP_AUTH_USER": "relay",
        "INTAKE_SMTP_AUTH_PASSWORD_FILE": str(password),
        "INTAKE_SMTP_MESSAGES_PER_MINUTE": "1",
        **UNTRUSTED,
    }
    with smtp_server(tmp_path, sqlite_url, redis_url, **env) as port:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls") and not client.has_extn("auth")
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.sendmail("a@customer.org", ["support@example.com"], make_mail())
            assert refused.value.smtp_code == 530
            client.starttls(context=client_tls())
            client.ehlo()
            assert client.has_extn("auth")
            for _ in range(5):
                with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
                    auth_plain(client, "relay", "wrong")
                assert failed.value.smtp_code == 535
            with pytest.raises(smtplib.SMTPAuthenticationError) as throttled:
                auth_plain(client, "relay", "s3cret relay password")  # right, after 5 failures
            assert throttled.value.smtp_code == 454
        with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(NORMAL, 0)) as client:
            client.starttls(context=client_tls())
            client.login("relay", "s3cret relay password")  # another address is not throttled
            # An authenticated relay speaks for many senders: the per-IP rate does not apply.
            for n in range(2):
                mail = make_mail(subject=f"relayed {n}")
                assert client.sendmail("a@customer.org", ["support@example.com"], mail) == {}
    assert stored(tmp_path, sqlite_url, redis_url) == 2


def test_without_an_account_auth_is_not_offered_even_over_tls(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    cert, key = self_signed(tmp_path)
    env = {"INTAKE_SMTP_TLS_CERT": str(cert), "INTAKE_SMTP_TLS_KEY": str(key)}
    with smtp_server(tmp_path, sqlite_url, redis_url, **env) as port:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.starttls(context=client_tls())
            client.ehlo()
            assert not client.has_extn("auth")
            assert client.sendmail("a@customer.org", ["support@example.com"], make_mail()) == {}


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


@pytest.mark.slow
def test_30_connections_sending_24_mb_without_line_end_keep_intake_smtp_small(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    """The issue's attack on the real ``intake smtp`` process: it stays under 300 MB."""
    port = free_port()
    env = {
        **os.environ,
        "INTAKE_DATA_DIR": str(tmp_path / "data"),
        "INTAKE_DATABASE_URL": sqlite_url,
        "INTAKE_REDIS_URL": redis_url,
        "INTAKE_ACCEPT_DOMAINS": "example.com",
        "INTAKE_SMTP_HOST": "127.0.0.1",
        "INTAKE_SMTP_PORT": str(port),
        "INTAKE_SMTP_TRUSTED_NETWORKS": "none",
    }
    process = subprocess.Popen([sys.executable, "-m", "intake", "smtp"], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        before = vm_kib(process.pid, "VmRSS")
        results: list[tuple[int, bytes]] = []
        # 30 abusers from 30 addresses, so the per-IP cap does not turn them away at the door.
        abusers = [
            threading.Thread(
                target=lambda n=n: results.append(
                    send_without_line_end(port, 24 * 1024 * 1024, f"127.0.0.{10 + n}")
                )
            )
            for n in range(30)
        ]
        for thread in abusers:
            thread.start()
        normal_client_sends(port, "Served during the attack")
        for thread in abusers:
            thread.join(60)
        peak = vm_kib(process.pid, "VmHWM")  # the kernel's high-water mark of resident memory
        after = vm_kib(process.pid, "VmRSS")
        print(
            f"intake smtp RSS {before // 1024} MB before, "
            f"peak {peak // 1024} MB, {after // 1024} MB after"
        )
        assert len(results) == 30 and all(sent < 24 * 1024 * 1024 for sent, _ in results)
        assert peak < 300 * 1024
    finally:
        process.terminate()
        process.wait(10)
    assert stored(tmp_path, sqlite_url, redis_url) == 1


def test_data_budget_charges_past_the_free_allowance_and_is_given_back() -> None:
    budget = DataBudget(capacity=3 * FREE_MESSAGE_BYTES)
    guards = [
        StreamGuard(max_data_line=2000, max_data_bytes=10**8, budget=budget) for _ in range(3)
    ]
    megabyte_of_lines = (b"x" * 1022 + b"\r\n") * 1024
    for guard in guards:
        guard.start_data()
        assert guard.feed(megabyte_of_lines) is None  # the first MiB of each message is free
    assert budget.used == 0
    assert guards[0].feed(megabyte_of_lines * 2) is None
    assert guards[1].feed(megabyte_of_lines) is None
    assert budget.used == 3 * FREE_MESSAGE_BYTES
    assert guards[2].feed(b"y\r\n") == "451 4.3.1 Too much mail in progress, try again later"
    guards[0].end_data()
    guards[0].end_data()  # twice (stored, then the connection closed): given back once
    assert budget.used == FREE_MESSAGE_BYTES
    guards[2].end_data()  # refused, so its connection closed; it held nothing
    fresh = StreamGuard(max_data_line=2000, max_data_bytes=10**8, budget=budget)
    fresh.start_data()
    assert fresh.feed(megabyte_of_lines * 2) is None and budget.used == 2 * FREE_MESSAGE_BYTES


def start_message(port: int, source: str = "127.0.0.1") -> tuple[socket.socket, BinaryIO]:
    sock = raw_connection(port, source)
    replies = sock.makefile("rb")
    for command in (
        b"",
        b"HELO big\r\n",
        b"MAIL FROM:<a@b.c>\r\n",
        b"RCPT TO:<support@example.com>\r\n",
        b"DATA\r\n",
    ):
        if command:
            sock.sendall(command)
        reply = replies.readline()
    assert reply.startswith(b"354"), reply
    return sock, replies


def test_large_messages_in_progress_share_a_budget_and_small_mail_still_passes(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    env = {
        "INTAKE_MAX_MESSAGE_BYTES": str(4 * FREE_MESSAGE_BYTES),
        "INTAKE_SMTP_DATA_BUDGET_BYTES": str(5 * FREE_MESSAGE_BYTES),
    }
    lines = (b"z" * 1022 + b"\r\n") * 1024  # 1 MiB
    with smtp_server(tmp_path, sqlite_url, redis_url, **env) as port:
        first, first_replies = start_message(port)
        first.sendall(b"Subject: one\r\n\r\n" + lines * 3)  # holds 2 MiB of the budget
        second, second_replies = start_message(port)
        second.sendall(b"Subject: two\r\n\r\n" + lines * 3)  # and 2 MiB more, of 5
        time.sleep(0.3)  # let the server read both
        third, third_replies = start_message(port)
        try:
            third.sendall(b"Subject: three\r\n\r\n" + lines * 2)  # 1 MiB more: over
        except OSError:
            pass  # closed under us, as it should be
        assert third_replies.readline().startswith(b"451 4.3.1")
        normal_client_sends(port)  # small mail needs no budget
        first.sendall(b".\r\n")
        assert first_replies.readline().startswith(b"250")
        second.sendall(b"..a line that starts with a dot\r\n.\r\n")
        assert second_replies.readline().startswith(b"250")
        for sock, replies in (
            (first, first_replies),
            (second, second_replies),
            (third, third_replies),
        ):
            replies.close()
            sock.close()
    runtime = make_runtime(tmp_path, sqlite_url, redis_url)
    try:
        with runtime.db.session() as session:
            rows = list(session.scalars(select(Message).order_by(Message.id)))
            assert len(rows) == 3
            two = runtime.blobs.get(rows[-1].raw_sha256)
            # The DATA reader undoes the sender's dot-stuffing (RFC 5321 4.5.2), nothing else.
            assert (
                two == b"Subject: two\r\n\r\n" + lines * 3 + b".a line that starts with a dot\r\n"
            )
    finally:
        runtime.close()


def test_session_chatter_goes_to_debug_and_each_message_gets_one_info_line(
    tmp_path: Path, sqlite_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with smtp_server(tmp_path, sqlite_url, redis_url) as port:
        normal_client_sends(port)
        assert not [r for r in caplog.records if r.name == "mail.log"]
        accepted = [r for r in caplog.records if r.getMessage().startswith("accepted message")]
        assert len(accepted) == 1 and accepted[0].levelno == logging.INFO
        caplog.clear()
        caplog.set_level(logging.DEBUG)  # still there for whoever debugs a session
        normal_client_sends(port, "Second")
        chatter = [r for r in caplog.records if r.name == "mail.log"]
        assert chatter and {r.levelname for r in chatter} == {"DEBUG"}

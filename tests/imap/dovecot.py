"""A throwaway Dovecot for tests: own config dir, passwd-file users, maildirs in a temp dir.

Nothing outside the temp dir is touched. As root, Dovecot's own unprivileged accounts run the
login and mail processes (it refuses to serve mail as root); as any other user, that user runs
everything. IMAP APPEND through :meth:`Dovecot.client` delivers test mail.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

# Dovecot 2.3's post-login capabilities without IDLE, for the polling-fallback server.
CAPABILITIES_WITHOUT_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY LITERAL+ "
    "NOTIFY SPECIAL-USE"
)


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid``, from /proc (Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


@dataclass
class Dovecot:
    root: Path
    port: int
    users: dict[str, str]
    idle: bool = True
    # When set, XOAUTH2 logins are checked by POSTing the token here (RFC 7662 introspection).
    oauth2_introspection_url: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def _accounts(self) -> tuple[str, str, int, int]:
        if os.geteuid() == 0:
            mail = pwd.getpwnam("dovecot")
            return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid

    def write_config(self) -> Path:
        internal, login, uid, gid = self._accounts()
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "passwd").write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users.items())
        )
        capability = "" if self.idle else f'imap_capability = "{CAPABILITIES_WITHOUT_IDLE}"\n'
        oauth2 = ""
        if self.oauth2_introspection_url:
            (self.root / "oauth2.conf").write_text(
                "introspection_mode = post\n"
                f"introspection_url = {self.oauth2_introspection_url}\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
            )
            oauth2 = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2\n"
                f"  args = {self.root}/oauth2.conf\n}}\n"
            )
        config = self.root / "dovecot.conf"
        config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = intake-test-{self.port}
log_path = {self.log_path}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2" if oauth2 else ""}
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(gid).gr_name}
default_login_user = {login}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{self.root}/mail/%u
mail_max_userip_connections = 200
{capability}
{oauth2}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  imap_idle_notify_interval = 1 secs
}}
"""
        )
        # The mail processes run as the mail account: give it the tree.
        for path in (self.root, self.root / "mail", self.root / "passwd"):
            os.chown(path, uid if path != self.root / "passwd" else os.geteuid(), gid)
        os.chmod(self.root, 0o755)
        os.chmod(self.root / "passwd", 0o644)
        return config

    def start(self) -> None:
        binary = dovecot_binary()
        assert binary is not None
        config = self.write_config()
        # The child keeps its own copy of the descriptor; ours is closed at once.
        with open(self.root / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(
                [binary, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.logs()}")

    def stop(self) -> None:
        """Stop the master and every imap/auth process it started, dropping open connections."""
        if self.process is None or self.process.poll() is not None:
            return
        children = descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Children (imap, auth) exit on their own once the master is gone; wait for the port.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                return

    def logs(self) -> str:
        parts = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    @contextmanager
    def client(self, user: str | None = None) -> Iterator[IMAPClient]:
        user = user or next(iter(self.users))
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user, self.users[user])
        try:
            yield client
        finally:
            client.logout()

    def append(
        self, raw: bytes, folder: str = "INBOX", user: str | None = None, seen: bool = False
    ) -> None:
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, flags=[b"\\Seen"] if seen else [])


@contextmanager
def running_dovecot(
    users: dict[str, str], *, idle: bool = True, oauth2_introspection_url: str | None = None
) -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
    server = Dovecot(root, free_port(), users, idle, oauth2_introspection_url)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

"""Real mail peers on 127.0.0.1: Debian's Dovecot (IMAP, started on a free port with a throw-away
configuration, maildir under a temporary directory, one user with a plain password) and an
aiosmtpd SMTP server in-process that keeps what it receives.

Dovecot runs as the current user; as root (a CI container) its login and mail processes must
not be root, so they run as Debian's `dovenull` and `dovecot` users, who then own the maildir."""

from __future__ import annotations

import email
import email.policy
import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "desk", "imap-secret-密码"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """One Dovecot with one user (USER/PASSWORD) whose INBOX the tests fill by APPEND."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="opsdesk-dovecot-"))
        self.root.chmod(0o755)  # the mail processes (not root) must reach the maildir
        self.port = free_port()
        self.password = PASSWORD
        self.user = USER
        if os.getuid() == 0:
            login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
        else:
            me = pwd.getpwuid(os.getuid()).pw_name
            login_user = internal_user = mail_user = me
        gid = pwd.getpwnam(mail_user).pw_gid
        group = grp.getgrgid(gid).gr_name
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        if os.getuid() == 0:
            for sub in ("mail", "home"):
                os.chown(self.root / sub, pwd.getpwnam(mail_user).pw_uid, gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (self.root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = opsdesk-test-{self.port}
log_path = {self.root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name}
first_valid_uid = 0
mail_location = maildir:{self.root}/mail/%u
mail_uid = {mail_user}
mail_gid = {group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={group} home={self.root}/home/%u
}}
service imap-login {{
  chroot =
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
""")
        # Dovecot daemonises; its children would hold a captured pipe open, so errors go to a file.
        with open(self.root / "start.log", "wb") as errors:
            started = subprocess.run([DOVECOT, "-c", str(self.root / "dovecot.conf")], stdin=subprocess.DEVNULL,
                                     stdout=errors, stderr=errors, timeout=30)
        if started.returncode != 0:
            raise RuntimeError("dovecot did not start: " + (self.root / "start.log").read_text(errors="replace"))
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                conn = self.connect()
                conn.logout()
                return
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start: " + self.log())

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.authenticate("PLAIN", lambda _challenge: f"\0{USER}\0{PASSWORD}".encode())
        return conn

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        conn = self.connect()
        try:
            for raw in messages:
                typ, data = conn.append(folder, None, None, raw)
                assert typ == "OK", data
        finally:
            conn.logout()

    def count(self, folder: str = "INBOX") -> int:
        conn = self.connect()
        try:
            typ, data = conn.select(folder, readonly=True)
            return int(data[0])
        finally:
            conn.logout()

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


class Mailbox:
    """An aiosmtpd handler that keeps what arrived."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def parsed(self, i: int = -1) -> email.message.EmailMessage:
        return email.message_from_bytes(self.mails[i][2], policy=email.policy.default)


class Smtp:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.port = self.controller.port

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

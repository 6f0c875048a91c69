"""A small SMTP server on 127.0.0.1 for the mail tests: it speaks enough of RFC 5321 for
Django's SMTP backend (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps what it received,
and can turn the first connections away as a busy server does (`421`), or refuse every
recipient for good (`550`).

    with FakeSMTP(busy=2) as server:   # the first two connections get "421 busy"
        ... EMAIL_HOST="127.0.0.1", EMAIL_PORT=server.port ...
        server.messages                # each message's raw bytes
"""

from __future__ import annotations

import socketserver
import threading
from typing import Any


class FakeSMTP:
    def __init__(self, *, busy: int = 0, refuse_recipients: bool = False) -> None:
        self.busy = busy
        self.refuse_recipients = refuse_recipients
        self.connections = 0
        self.messages: list[bytes] = []
        self.lock = threading.Lock()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def __enter__(self) -> FakeSMTP:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def _handler(smtp: FakeSMTP) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        timeout = 10

        def reply(self, line: str) -> None:
            self.wfile.write(f"{line}\r\n".encode())
            self.wfile.flush()

        def handle(self) -> None:
            with smtp.lock:
                smtp.connections += 1
                turned_away = smtp.connections <= smtp.busy
            if turned_away:
                self.reply("421 fake.smtp.localhost Too busy, try again later")
                return
            self.reply("220 fake.smtp.localhost ESMTP ready")
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
                if verb == "EHLO":
                    self.reply("250-fake.smtp.localhost")
                    self.reply("250 8BITMIME")
                elif verb in ("HELO", "MAIL", "RSET", "NOOP"):
                    self.reply("250 OK")
                elif verb == "RCPT":
                    self.reply("550 No such user" if smtp.refuse_recipients else "250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    self._data()
                    self.reply("250 OK: queued")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("502 Command not implemented")

        def _data(self) -> None:
            lines: list[bytes] = []
            while True:
                line: Any = self.rfile.readline()
                if not line or line == b".\r\n":
                    break
                lines.append(line[1:] if line.startswith(b"..") else line)
            with smtp.lock:
                smtp.messages.append(b"".join(lines))

    return Handler

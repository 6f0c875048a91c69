"""A TCP forwarder in front of PostgreSQL, to take the database away from a server under test.

The machine's PostgreSQL is shared and must never be stopped by a test: a live server reaches
it through this proxy instead, and the test cuts the proxy (`stop`: open connections are
dropped and new ones refused, as when the database stops), stalls it (`freeze`: connections
stay open but no byte goes through, as when the database hangs or the network drops
packets), and restores it (`start`, `thaw`). `freeze_replies` stalls only what the upstream
sends back: requests arrive and are handled, their answers are lost in transit.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from tests.live import free_port

ACCEPT_POLL_SECONDS = 0.1
CHUNK_BYTES = 65536


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `upstream` while started."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._replies_flowing = threading.Event()
        self._replies_flowing.set()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None

    def start(self) -> None:
        """Accept connections on `port` again (no-op while started)."""
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def stop(self) -> None:
        """Refuse new connections and drop the open ones, both ways."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._accepting is not None:
            self._accepting.join()
            self._accepting = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def freeze(self) -> None:
        """Keep every connection open, accept new ones, forward nothing."""
        self._flowing.clear()

    def freeze_replies(self) -> None:
        """Forward what clients send, hold back what the upstream answers."""
        self._replies_flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()
        self._replies_flowing.set()

    def close(self) -> None:
        self.thaw()
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            for source, target, gate in (
                (client, server, self._flowing),
                (server, client, self._replies_flowing),
            ):
                threading.Thread(
                    target=self._pump, args=(source, target, gate), daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket, gate: threading.Event) -> None:
        try:
            while chunk := source.recv(CHUNK_BYTES):
                self._flowing.wait()
                gate.wait()
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            # One side ended: end the other, as a direct connection would.
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

"""An HTTP/2 client for tests, on the `h2` library: whole requests, or raw frames."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    reset: int | None = None  # the RST_STREAM error code, if the server reset the stream
    ended: bool = False

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


class H2Client:
    """One HTTP/2 connection: TLS with ALPN "h2" when `tls` is given, else h2c."""

    def __init__(
        self,
        port: int,
        tls: ssl.SSLContext | None = None,
        *,
        authority: str = "localhost",
        window: int | None = None,
        timeout: float = 10.0,
    ) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls is not None:
            tls.set_alpn_protocols(["h2"])
            self.sock: socket.socket = tls.wrap_socket(raw, server_hostname=authority)
            assert self.sock.selected_alpn_protocol() == "h2"  # type: ignore[attr-defined]
        else:
            self.sock = raw
        self.scheme = b"https" if tls is not None else b"http"
        self.authority = authority.encode()
        # Fields go out as the test writes them (malformed ones too).
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config)
        if window is not None:  # in force from the first SETTINGS frame on
            self.conn.local_settings = h2.settings.Settings(
                client=True,
                initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window},
            )
        self.conn.initiate_connection()
        self.answers: dict[int, Answer] = {}
        self.goaway: int | None = None
        self.auto_ack = True  # acknowledge received DATA at once (keeps windows open)
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(
        self,
        path: str,
        method: str = "GET",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
        end: bool = True,
    ) -> int:
        sid = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()),
            (b":path", path.encode()),
            (b":scheme", self.scheme),
            (b":authority", self.authority),
            *(headers or []),
        ]
        self.conn.send_headers(sid, fields, end_stream=end and body is None)
        self.answers[sid] = Answer()
        self.flush()
        if body is not None:
            self.send_body(sid, body, end)
        return sid

    def send_body(self, sid: int, body: bytes, end: bool = True) -> None:
        """Send `body` as the windows allow, reading the server's WINDOW_UPDATEs."""
        view = memoryview(body)
        while view:
            conn = self.conn
            window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if window <= 0:
                self.read_once()
                continue
            chunk, view = view[:window], view[window:]
            self.conn.send_data(sid, bytes(chunk))
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def read_once(self) -> bool:
        """Read once and apply the events; False when the server closed."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            return False
        for event in events:
            self._apply(event)
        self.flush()
        return True

    def _apply(self, event: h2.events.Event) -> None:
        sid = getattr(event, "stream_id", 0)
        answer = self.answers.get(sid)
        if isinstance(event, h2.events.ResponseReceived) and answer is not None:
            answer.headers = list(event.headers)
            answer.status = int(dict(answer.headers)[b":status"])
        elif isinstance(event, h2.events.DataReceived):
            if answer is not None:
                answer.body += event.data
            if self.auto_ack and event.flow_controlled_length:
                self.conn.acknowledge_received_data(event.flow_controlled_length, sid)
        elif isinstance(event, h2.events.StreamEnded) and answer is not None:
            answer.ended = True
        elif isinstance(event, h2.events.StreamReset) and answer is not None:
            answer.reset = event.error_code
            answer.ended = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event.error_code
            if event.error_code == 0:
                # A graceful GOAWAY (RFC 9113 §6.8): streams up to its last id still get
                # their answers, but the h2 library closes its state machine on any
                # GOAWAY; reopened here so those answers can be read.
                self.conn.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN

    def wait(self, sid: int, timeout: float = 10.0) -> Answer:
        answer = self.answers[sid]
        deadline = time.monotonic() + timeout
        while not answer.ended:
            if time.monotonic() > deadline:
                raise AssertionError(f"stream {sid} not answered in {timeout}s")
            if not self.read_once():
                raise AssertionError(f"connection closed before stream {sid} ended")
        return answer

    def get(
        self, path: str, headers: list[tuple[bytes, bytes]] | None = None, **kw: object
    ) -> Answer:
        return self.wait(self.send(path, headers=headers, **kw))  # type: ignore[arg-type]


def vm_rss_kb(pid: int) -> int:
    """The process's resident set (VmRSS) in KiB, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")

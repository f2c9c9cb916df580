# SPDX-License-Identifier: GPL-3.0-or-later
"""A small WebSocket client (RFC 6455) on the standard library, for testing cmee-server.

Client side only: the opening handshake (with the Sec-WebSocket-Accept check), masked text
frames out, frames in (text, binary, ping answered with pong, close), fragmented messages
reassembled. No extensions, no TLS.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketError(Exception):
    pass


class HandshakeError(WebSocketError):
    def __init__(self, status, head):
        super().__init__("handshake refused: %s" % status)
        self.status = status
        self.head = head


class Closed(WebSocketError):
    def __init__(self, code, reason):
        super().__init__("closed by the server: %s %s" % (code, reason))
        self.code = code
        self.reason = reason


class WebSocket:
    def __init__(self, host, port, path="/ws", timeout=10.0, headers=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET %s HTTP/1.1" % path,
            "Host: %s:%d" % (host, port),
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: " + key,
            "Sec-WebSocket-Version: 13",
        ]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = self._read_until(b"\r\n\r\n").decode("latin-1")
        except (OSError, WebSocketError):
            self.sock.close()
            raise
        status_line, _, rest = head.partition("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        fields = {}
        for line in rest.split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
        if status != 101:
            self.sock.close()
            raise HandshakeError(status, head)
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if fields.get("sec-websocket-accept") != want:
            self.sock.close()
            raise WebSocketError("bad Sec-WebSocket-Accept")

    # -- low level ---------------------------------------------------------------------
    def _read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebSocketError("connection closed during the handshake")
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebSocketError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload, fin=True):
        head = bytearray([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head.append(0x80 | 126)
            head += struct.pack("!H", n)
        else:
            head.append(0x80 | 127)
            head += struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(head) + mask + masked)

    def read_frame(self):
        b0, b1 = self._read_exact(2)
        fin, opcode = bool(b0 & 0x80), b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read_exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read_exact(8))
        if b1 & 0x80:  # a server must not mask, but accept it
            mask = self._read_exact(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(n)))
        else:
            data = self._read_exact(n)
        return fin, opcode, data

    # -- messages ----------------------------------------------------------------------
    def send_text(self, text):
        self.send_frame(0x1, text.encode())

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def recv(self, timeout=None):
        """The next whole message (str for text, bytes for binary); raises socket.timeout."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        parts, kind = [], None
        while True:
            fin, opcode, data = self.read_frame()
            if opcode == 0x9:
                self.send_frame(0xA, data)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                raise Closed(code, data[2:].decode(errors="replace"))
            if opcode in (0x1, 0x2):
                kind = opcode
                parts = [data]
            elif opcode == 0x0:
                parts.append(data)
            if fin:
                payload = b"".join(parts)
                return payload.decode() if kind == 0x1 else payload

    def recv_json(self, timeout=None):
        return json.loads(self.recv(timeout))

    def recv_until(self, pred, timeout=5.0):
        """Read messages until pred(msg) is true; returns (msg, messages skipped)."""
        end = time.monotonic() + timeout
        skipped = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise socket.timeout("no matching message in %.1f s" % timeout)
            m = self.recv_json(timeout=left)
            if pred(m):
                return m, skipped
            skipped.append(m)

    def close(self, code=1000):
        try:
            self.send_frame(0x8, struct.pack("!H", code))
        except OSError:
            pass
        self.sock.close()

"""A misbehaving S3 backend on 127.0.0.1 for the fault-injection tests (test_faults.py).

Raw sockets and one thread per connection, so it can do what no well-behaved HTTP server does:
answer late or never, break a body off after half its announced length, reset the connection
while a request body is still arriving, answer 5xx with or without an error document, or send
junk or an oversized XML document where a listing is expected.

The first path segment (the backend bucket name the gateway's config points at) picks the mode:
`http://127.0.0.1:PORT/<mode>/<key>`. Every request is recorded in `requests` (method, path).
"""
import socket
import struct
import threading
import time

# How long `slow` waits before (never really) answering: far past any gateway timeout the tests
# set, short enough that a stuck thread does not outlive the session by much.
SLOW_SECONDS = 120
# The size of the `huge` XML answers: well past any sane buffer for a listing.
HUGE_BYTES = 50 << 20
# The object the `cut-*` modes announce: N bytes, of which N/2 are sent.
CUT_SIZE = 1 << 20

MODES = (
    "slow",           # reads the request, then says nothing for SLOW_SECONDS
    "cut-cl",         # 200, Content-Length N, N/2 bytes, then closes
    "cut-cl-rst",     # the same, then a TCP reset
    "cut-chunked",    # 200, chunked, N/2 bytes of chunks, then closes without the last chunk
    "stall-mid",      # 200, Content-Length N, N/2 bytes, then silence for SLOW_SECONDS
    "put-reset",      # reads part of a request body, then a TCP reset
    "e500-xml",       # 500 InternalError document
    "e503-xml",       # 503 SlowDown document
    "e500-bare",      # 500, empty body
    "e503-bare",      # 503, empty body
    "junk",           # 200 with a body that is no XML
    "huge",           # 200 with a HUGE_BYTES XML document
)


def payload(n):
    """Deterministic object bytes (what a `cut-*` object would have been)."""
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


def _reset(conn):
    """Closes with a TCP RST instead of a FIN (SO_LINGER on, zero timeout)."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


class FaultyServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopped.set()
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    # --- reading a request -------------------------------------------------------------------

    @staticmethod
    def _read_head(conn, buf):
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None, buf
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return (method, target, headers), rest

    @staticmethod
    def _read_body(conn, headers, rest, limit=None):
        """Reads the request body (Content-Length or chunked), at most `limit` bytes of it."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            data = rest
            while not data.endswith(b"0\r\n\r\n") and (limit is None or len(data) < limit):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data, b""
        n = int(headers.get("content-length") or 0)
        want = n if limit is None else min(n, limit)
        data = rest
        while len(data) < want:
            chunk = conn.recv(min(65536, want - len(data)))
            if not chunk:
                break
            data += chunk
        return data[:n], data[n:]

    # --- answering ---------------------------------------------------------------------------

    @staticmethod
    def _answer(conn, status, body=b"", headers=(), reason="X"):
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}",
                "Connection: close", *headers]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def _serve(self, conn):
        try:
            self._serve_one(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _serve_one(self, conn):
        parsed, rest = self._read_head(conn, b"")
        if parsed is None:
            return
        method, target, headers = parsed
        self.requests.append((method, target))
        path, _, query = target.partition("?")
        mode = path.lstrip("/").split("/", 1)[0]
        if mode == "put-reset":
            # Half of what was announced (at least a little), then a reset mid-body.
            n = int(headers.get("content-length") or 0)
            self._read_body(conn, headers, rest, limit=max(1, n // 2))
            _reset(conn)
            return
        body, _ = self._read_body(conn, headers, rest)
        if mode == "slow":
            self.stopped.wait(SLOW_SECONDS)
            return
        if method == "POST" and "uploads" in (q.split("=", 1)[0] for q in query.split("&")):
            # CreateMultipartUpload answers properly everywhere, so a Complete can follow.
            key = path.lstrip("/").split("/", 1)[1] if "/" in path.lstrip("/") else ""
            doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult>"
                   f"<Bucket>{mode}</Bucket><Key>{key}</Key><UploadId>faulty-upload-1</UploadId>"
                   "</InitiateMultipartUploadResult>").encode()
            self._answer(conn, 200, doc, ["Content-Type: application/xml"], "OK")
            return
        if mode == "stall-mid":
            data = payload(CUT_SIZE)
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Length: {CUT_SIZE}\r\nETag: \"stall\"\r\n\r\n")
            conn.sendall(head.encode() + data[: CUT_SIZE // 2])
            self.stopped.wait(SLOW_SECONDS)
            return
        if mode in ("cut-cl", "cut-cl-rst"):
            data = payload(CUT_SIZE)
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Length: {CUT_SIZE}\r\nETag: \"cut\"\r\nConnection: close\r\n\r\n")
            conn.sendall(head.encode() + data[: CUT_SIZE // 2])
            time.sleep(0.2)
            if mode == "cut-cl-rst":
                _reset(conn)
            return
        if mode == "cut-chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            data = payload(CUT_SIZE // 2)
            for i in range(0, len(data), 65536):
                part = data[i:i + 65536]
                conn.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            time.sleep(0.2)
            return
        if mode in ("e500-xml", "e503-xml"):
            status, code, msg = ((500, "InternalError", "We encountered an internal error.")
                                 if mode == "e500-xml" else
                                 (503, "SlowDown", "Please reduce your request rate."))
            doc = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                   f"<Message>{msg}</Message><Resource>{path}</Resource>"
                   "<RequestId>FAULTY</RequestId></Error>").encode()
            self._answer(conn, status, doc, ["Content-Type: application/xml"])
            return
        if mode in ("e500-bare", "e503-bare"):
            self._answer(conn, int(mode[1:4]))
            return
        if mode == "junk":
            self._answer(conn, 200, b"this is no XML at all }{ <<<" * 100,
                         ["Content-Type: application/xml"], "OK")
            return
        if mode == "huge":
            self._huge(conn)
            return
        self._answer(conn, 404, b"", [], "Not Found")

    @staticmethod
    def _huge(conn):
        """A syntactically fine ListBucketResult of HUGE_BYTES, streamed out."""
        open_ = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                 b"<Name>huge</Name><Prefix></Prefix><KeyCount>0</KeyCount>"
                 b"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>")
        close = b"</ListBucketResult>"
        entry = (b"<Contents><Key>k</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                 b"<ETag>&quot;x&quot;</ETag><Size>1</Size><StorageClass>STANDARD"
                 b"</StorageClass></Contents>")
        count = (HUGE_BYTES - len(open_) - len(close)) // len(entry)
        total = len(open_) + count * len(entry) + len(close)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                     + f"Content-Length: {total}\r\nConnection: close\r\n\r\n".encode() + open_)
        block = entry * 1000
        sent = 0
        while sent + 1000 <= count:
            conn.sendall(block)
            sent += 1000
        conn.sendall(entry * (count - sent) + close)

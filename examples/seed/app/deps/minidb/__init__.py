"""A tiny Redis (RESP) client: enough for the seed's app."""

import socket


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.reader = sock.makefile("rb")

    def command(self, *args):
        payload = f"*{len(args)}\r\n" + "".join(f"${len(str(a))}\r\n{a}\r\n" for a in args)
        self.sock.sendall(payload.encode())
        return self._reply()

    def _reply(self):
        line = self.reader.readline().decode().rstrip("\r\n")
        kind, rest = line[:1], line[1:]
        if kind == "$":
            return None if rest == "-1" else self.reader.read(int(rest) + 2)[:-2].decode()
        if kind == "-":
            raise RuntimeError(rest)
        return rest


def connect(url, timeout=3):
    host, _, port = url.rpartition(":")
    conn = Connection(socket.create_connection((host, int(port)), timeout=timeout))
    conn.command("PING")
    return conn

"""Where an instance of lamina lives: data root, socket, run dir, device-name prefix.

Two environment variables select an instance, for the daemon and the CLI alike:
`LAMINA_ROOT` (data root, default /var/lib/lamina) and `LAMINA_HOST` (the API socket,
default unix:///run/lamina/lamina.sock). Every other path derives from them, so test
daemons with their own root and socket never touch each other or the default one.
This module is imported by the CLI: keep it to the standard library's cheap modules.
"""

from __future__ import annotations

import os
from pathlib import Path

from lamina.errors import InvalidArgument

DEFAULT_ROOT = Path("/var/lib/lamina")
DEFAULT_HOST = "unix:///run/lamina/lamina.sock"


class Paths:
    """An instance's locations. (A plain class: `dataclasses` costs the CLI ~5 ms.)"""

    __slots__ = ("host", "root")

    def __init__(self, root: Path, host: str) -> None:
        self.root = root
        self.host = host

    def __repr__(self) -> str:
        return f"Paths(root={self.root!r}, host={self.host!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and (self.root, self.host) == (other.root, other.host)

    def __hash__(self) -> int:
        return hash((self.root, self.host))

    @property
    def socket(self) -> Path:
        return socket_path(self.host)

    @property
    def run_dir(self) -> Path:
        """Runtime state that does not survive a reboot (pid file, runtime state dirs)."""
        sock = self.socket
        if sock.name == "lamina.sock":
            return sock.parent
        return sock.parent / f"{sock.stem}.run"

    @property
    def device_prefix(self) -> str:
        """Prefix for host network device names; short, since Linux allows 15 chars."""
        if self.root == DEFAULT_ROOT:
            return "lam"
        import hashlib  # lazily: its C module costs the CLI ~4 ms

        return "l" + hashlib.sha256(str(self.root).encode()).hexdigest()[:4]

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "lamina.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "daemon.log"


def socket_path(host: str) -> Path:
    if not host.startswith("unix://"):
        raise InvalidArgument(f"unsupported LAMINA_HOST {host!r}: only unix:// sockets are served")
    return Path(host[len("unix://") :])


def from_env(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    root = Path(env.get("LAMINA_ROOT") or DEFAULT_ROOT)
    return Paths(root=root, host=env.get("LAMINA_HOST") or DEFAULT_HOST)

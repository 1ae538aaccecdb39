"""Where an instance of lamina lives: data root, socket, run dir, device-name prefix.

Two environment variables select an instance, for the daemon and the CLI alike:
`LAMINA_ROOT` (data root, default /var/lib/lamina) and `LAMINA_HOST` (the API socket,
default unix:///run/lamina/lamina.sock). Every other path derives from them, so test
daemons with their own root and socket never touch each other or the default one.
This module is imported by the CLI: keep it to the standard library's cheap modules.
"""

from __future__ import annotations

import os

from lamina.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_ROOT = "/var/lib/lamina"
DEFAULT_HOST = "unix:///run/lamina/lamina.sock"


class Paths:
    """An instance's locations. (A plain class: `dataclasses` costs the CLI ~5 ms, and
    `pathlib` ~3 ms, so the paths are strings inside and `Path`s only when asked for.)"""

    __slots__ = ("_root", "host")

    def __init__(self, root: str | os.PathLike[str], host: str) -> None:
        self._root = os.path.normpath(os.fspath(root))
        self.host = host

    def __repr__(self) -> str:
        return f"Paths(root={self._root!r}, host={self.host!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and (self._root, self.host) == (other._root, other.host)

    def __hash__(self) -> int:
        return hash((self._root, self.host))

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self._root)

    @property
    def socket(self) -> Path:
        from pathlib import Path

        return Path(self.socket_file)

    @property
    def socket_file(self) -> str:
        """The API socket's path, as a string (what the CLI needs, without pathlib)."""
        if not self.host.startswith("unix://"):
            raise InvalidArgument(
                f"unsupported LAMINA_HOST {self.host!r}: only unix:// sockets are served"
            )
        return self.host[len("unix://") :]

    @property
    def run_dir(self) -> Path:
        """Runtime state that does not survive a reboot (sockets, runtime state dirs)."""
        sock = self.socket
        if sock.name == "lamina.sock":
            return sock.parent
        return sock.parent / f"{sock.stem}.run"

    @property
    def device_prefix(self) -> str:
        """Prefix for host network device names; short, since Linux allows 15 chars."""
        if self._root == DEFAULT_ROOT:
            return "lam"
        import hashlib  # lazily: its C module costs the CLI ~4 ms

        return "l" + hashlib.sha256(self._root.encode()).hexdigest()[:4]

    @property
    def cgroup_parent(self) -> str:
        """The cgroup its containers and build steps run under: `/lamina` for the
        default root (as Docker's `/docker`), one of its own for any other, so the
        instances of a test run never share (or remove) each other's."""
        if self._root == DEFAULT_ROOT:
            return "/lamina"
        return f"/lamina-{self.device_prefix}"

    @property
    def log_file(self) -> Path:
        return self.root / "daemon.log"


def from_env(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    root = env.get("LAMINA_ROOT") or DEFAULT_ROOT
    return Paths(root=root, host=env.get("LAMINA_HOST") or DEFAULT_HOST)

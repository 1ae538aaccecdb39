"""How many connections, requests and streams the daemon serves at once, sized from the
file descriptors it may open.

Each of them holds descriptors: a waiting connection its socket; a request its socket
and a file or two; a stream its socket and what it relays (a monitor's socket, a log
file, a build's pipes). Besides, the daemon holds its own: the database and its WAL,
the content store's files, monitors' control sockets, netlink. If the connections and
streams clients may open could take them all, the next `open` in SQLite or a monitor
fails, and that is a 500 for a request that did nothing wrong. So the budget is
derived from RLIMIT_NOFILE, after `raise_nofile` has raised the soft limit to the hard
one at start: dockerd does the same (its unit ran with LimitNOFILE=infinity, and the
Go runtime raises the soft limit itself), so a daemon started from a shell with the
usual soft 1024 is not held to it.
"""

from __future__ import annotations

import contextlib
import resource
from dataclasses import dataclass

from lamina.api.workers import MAX_REQUESTS, MAX_STREAMS

RESERVED = 256  # descriptors the daemon keeps for itself, whatever clients do
PER_REQUEST = 2  # a request's socket, and a file or the database
PER_STREAM = 4  # a stream's socket, a monitor's socket or log file, a pair of pipes
MAX_PARKED = 4096  # waiting connections, at most
MIN_STREAMS = 8  # below this the daemon would be of little use, whatever its limit


@dataclass(frozen=True)
class Limits:
    parked: int  # connections waiting between requests (lamina.api.reactor)
    requests: int  # request threads (lamina.api.workers)
    streams: int  # long streams: logs -f, attach, exec, wait, build, import

    @classmethod
    def for_descriptors(cls, nofile: int, *, streams: int = MAX_STREAMS) -> Limits:
        """The limits that fit in `nofile` descriptors, streams at most `streams`: a
        quarter of them for waiting connections (≤ MAX_PARKED), then the requests,
        RESERVED for the daemon, and the rest for streams."""
        parked = max(64, min(MAX_PARKED, nofile // 4))
        left = nofile - RESERVED - parked - MAX_REQUESTS * PER_REQUEST
        fitting = max(MIN_STREAMS, left // PER_STREAM)
        return cls(parked=parked, requests=MAX_REQUESTS, streams=min(streams, fitting))


def raise_nofile() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):  # a hard limit above nr_open
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return nofile()


def nofile() -> int:
    """The soft RLIMIT_NOFILE: how many descriptors this process may have open."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20

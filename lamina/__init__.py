"""lamina: a Docker-compatible container engine with cached, shared, content-addressed layers.

`lamina.Engine` is the composition root; it is imported lazily so that the CLI, which
only talks to the daemon's API, never pays for loading the engine.
"""

from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str) -> object:  # not typing.Any: importing typing costs the CLI
    if name == "Engine":
        from lamina.engine import Engine

        return Engine
    raise AttributeError(name)

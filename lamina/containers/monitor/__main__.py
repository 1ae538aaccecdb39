"""`python -m lamina.containers.monitor …`: see `lamina.containers.monitor`."""

from __future__ import annotations

import sys

from lamina.containers.monitor.lifecycle import Monitor
from lamina.containers.monitor.options import parse
from lamina.errors import LaminaError


def main(argv: list[str] | None = None) -> int:
    try:
        opts = parse(sys.argv[1:] if argv is None else argv)
    except LaminaError as err:
        print(f"monitor: {err}", file=sys.stderr)
        return 2
    return Monitor(opts).run()


if __name__ == "__main__":
    sys.exit(main())

"""Write lamina's default seccomp profile to default.json beside this module.

    python -m lamina.runtime.seccomp [--check]

With --check, write nothing; exit 1 if the file is not what the code builds.
"""

from __future__ import annotations

import sys

from lamina.runtime.seccomp.default import PROFILE_FILE, profile_json


def main(argv: list[str]) -> int:
    text = profile_json()
    if argv == ["--check"]:
        current = PROFILE_FILE.read_text() if PROFILE_FILE.exists() else ""
        if current != text:
            print(f"{PROFILE_FILE} is out of date: run python -m lamina.runtime.seccomp")
            return 1
        return 0
    if argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    PROFILE_FILE.write_text(text)
    print(f"wrote {PROFILE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Seccomp for containers: Docker's default profile as lamina's own, and the converter.

- `default.py` states the default profile as facts (syscall tables, rules conditional
  on capabilities, architecture and kernel) and builds it in Docker's profile format;
  `default.json` is that profile written out by `python -m lamina.runtime.seccomp`
  (a unit test keeps the two equal), as moby ships profiles/seccomp/default.json.
- `convert.py` turns any Docker-format profile, the default or a user's, into the OCI
  `linux.seccomp` for this host and a container's capabilities; a user's is checked
  field by field first (`profile_check.py`), so a value runc would refuse is a 400.
"""

from lamina.runtime.seccomp.convert import (
    load_seccomp,
    profile_from_json,
    seccomp_from_profile,
)
from lamina.runtime.seccomp.default import default_profile, default_seccomp

__all__ = [
    "default_profile",
    "default_seccomp",
    "load_seccomp",
    "profile_from_json",
    "seccomp_from_profile",
]

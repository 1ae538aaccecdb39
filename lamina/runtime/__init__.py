"""The OCI runtime layer: what runs a container's process, and the spec it runs from.

Containers and build both run processes through it; it knows nothing of either (it
imports no container, build, image, network or volume code).

Terms:
- *runtime*: an OCI runtime binary (runc or crun: same command line) as typed calls:
  create, start, exec, kill, delete, state (`runc.py`).
- *bundle*: a folder with `config.json`, the OCI runtime spec (`spec.py` builds it from
  plain values: users (`users.py`), cgroup limits (`resources.py`), confinement
  (`security.py`, `securityopts.py`, `seccomp/`)).
- *id*: the container's name in the runtime; one runtime's `root` folder holds the
  state of the containers it knows.
"""

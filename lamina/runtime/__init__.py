"""The OCI runtime layer: what runs a container's process, and the spec it runs from.

Containers and build both run processes through it; it knows nothing of either (it
imports no container, build, image, network or volume code).

Terms:
- *runtime*: an OCI runtime, as the `Runtime` protocol (`protocol.py`) names its
  operations: create, start, run, exec, kill, delete, state. `runc.py` is the one for
  runc and crun (same command line). The daemon builds one (`runc.oci_runtime`) and the
  engine hands it down; a monitor, another process, rebuilds it from binary and root.
- *bundle*: a folder with `config.json`, the OCI runtime spec (`spec.py` builds it from
  plain values: users (`users.py`), cgroup limits (`resources.py`), confinement
  (`security.py`, `securityopts.py`, `seccomp/`)).
- *rootfs mounts*: a root filesystem, described as `Mount` values by the layer store,
  is mounted by the runtime's `Mounter` (`mounter.py`): the host's mount table for runc.
- *id*: the container's name in the runtime; one runtime's `root` folder holds the
  state of the containers it knows.
"""

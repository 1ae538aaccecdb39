"""Containers: Docker's container lifecycle over an OCI runtime and per-container monitors.

Terms:
- *container*: a record (`model.py`, `records.py`) made from a create body and an image:
  its configs, its writable layer, its state.
- *bundle*: the folder the runtime starts it from: config.json (the OCI runtime spec,
  `lamina.runtime.spec`) and the /etc files lamina writes.
- *monitor*: one small process per running container or exec (`monitor/`), owning its
  stdio and log and recording its exit, so containers outlive the daemon. The daemon
  starts and follows them through `Monitors` (`supervision.py`).
- *options*: every field of the create body is applied or refused (`options.py` is the
  table; docs/container-options.md shows it).

`service.py` is the entry: creation (`creation.py`), running (`running.py`), waiting,
execs; `logs/` and `monitor/` are sub-packages. The OCI runtime, the spec and confinement
are `lamina.runtime`'s.
"""

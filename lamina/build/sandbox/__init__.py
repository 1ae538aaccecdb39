"""Where a step changes files: scratch space, root filesystem views, and the RUN runner.

Terms:
- *workspace*: one step's active snapshot in the layer store (its upper dir is the
  step's diff) and scratch dirs: `rootfs/`, where the snapshot is mounted
  (`workspace`); *trash* removes finished ones in the background; a *tree view* is a
  read-only mount of an image's files; *scratch* is a build's handle on all of that
  over one layer store, with temporary folders for what a step only mounts (`scratch`).
- *runner*: runs a RUN command in a workspace's rootfs under the OCI runtime and
  returns its exit code (`runner.StepRunner`).
- *stubs*: mount points the runtime had to create, removed again so they do not land
  in the step's layer (`stubs`).
"""

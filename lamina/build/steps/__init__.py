"""Build steps: each instruction of a stage as a cache key and a way to make its result.

Terms:
- *step*: a key (cheap to make) and an `execute` that makes the result on a miss
  (`step.Step`); the result is the image state after it and its layer's diffID.
- `run`: RUN, its command line, environment and key, run in the sandbox;
  `run_mounts`: its `--mount=type=cache|bind|tmpfs`, as runtime mounts and key words.
- `copy`: COPY and ADD from the context, a stage, an image or heredocs.
- `config`: the instructions that change only the config (ENV, CMD, WORKDIR, ...).

A step receives what it uses (the committer, the sources it reads, scratch space,
progress), never the whole build.
"""

"""Builds: Dockerfiles into images, step by step, through an exact build cache.

Terms:
- *plan*: what `prepare` makes of a request before anything runs: the stages, the
  ones the target needs, the base images resolved (`plan`). Only this is a plan.
- *stage*: the instructions from one FROM to the next (`stage_builder`); *step*: one
  instruction that makes a layer or changes the config, with a *cache key* of named
  inputs so a miss says which input changed (`steps`, `step_cache`).
- *state*: the image a stage has built so far (`imagestate`); *committing* makes a
  step's state permanent under the build's lease (`commit`); *sources* are what steps
  read: the context, held images, earlier stages (`sources`).

The sub-packages, each with one job:

    context/   the build context: folder, uploaded tar, .dockerignore, stat cache
    cache/     cache keys, why a key missed, the cache index, single-flight steps
    copy/      COPY/ADD: select the copies, apply them to a layer, memo, hard links
    steps/     RUN (and its --mount), COPY/ADD, config instructions as steps
    sandbox/   where a step changes files: workspaces, views, the RUN runner
    progress/  build events and Docker's classic messages for them

The Dockerfile language (parser, directives, heredocs, shell words, typed
instructions) is `lamina.dockerfile`'s; this package runs what it reads.
`builder.py` is where to start reading.
"""

"""Builds: Dockerfiles into images, step by step, through an exact build cache.

Terms:
- *context*: the files a build may COPY, a folder read in place or an uploaded tar,
  filtered by .dockerignore (`context.py`, `tarcontext.py`, `statcache.py`).
- *stage*: the instructions from one FROM to the next; *step*: one instruction that
  makes a layer or changes the config, with a *cache key* made of named inputs
  (`cachekey.py`) so a miss says which input changed.
- *single flight*: concurrent builds that reach one cache key make its step once
  (`singleflight.py`).

The Dockerfile language (parser, directives, heredocs, shell words, typed
instructions) is `lamina.dockerfile`'s; this package runs what it reads.
`builder.py` is where to start reading.
"""

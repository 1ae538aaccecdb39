"""The build cache: keys of named inputs, why a key missed, and where results are kept.

Terms:
- *key*: a step's named inputs (parent, instruction, env, files, ...) and their digest
  (`key.CacheKey`); the digest is what the cache stores results under.
- *explain*: which inputs differ between a key and the nearest recorded one
  (`explain`), so a miss says why.
- *index*: the daemon-wide record of key digest → (chain ID, image ID) (`index`).
- *single flight*: concurrent builds that reach one key make its step once
  (`singleflight`).

Imports nothing of `lamina.build` outside this package.
"""

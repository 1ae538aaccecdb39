"""COPY and ADD: which files go where, and writing them into a step's layer.

Terms:
- *copies*: what one COPY or ADD does, decided before the cache lookup: each source
  entry and its destination in the image, and the selection's checksum the key
  covers (`select.select_copies`, Docker's and BuildKit's source rules).
- *apply*: writing the copies straight into the step's upper dir, over a read-only
  view of the image below (`apply.apply_copies`).
- *memo*: the copies of a context read in place, remembered while nothing they saw
  has changed (`memo.CopiesMemo`).
- *links*: files of committed layers a later COPY can hard-link instead of writing
  again (`links.LinkIndex`).

Depends on `lamina.build.context` only.
"""

"""Storage: the content store, the layer store and the metadata database, and the
collector that frees what nothing references.

Terms:
- *blob*: immutable bytes in the content store, named by their sha256 (`content.py`).
- *layer*: an unpacked filesystem diff, named by its chain ID (`layers/`); *layer tar*
  the diff as a tar (`archive.py`: applied safely, written deterministically).
- *metadata*: the SQLite database that says what names what (`metadata.py`).
- *root* (of the collector): what keeps a blob or layer alive: an image, a container, a
  lease of work in flight; `gc.py` marks from the roots and sweeps the rest.

`durable.py` says when a write has reached the disk; `mount.py` is the one place that
calls mount(2).
"""

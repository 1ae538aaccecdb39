"""Images: their records, names and configs, and how they are made and removed.

Terms:
- *image*: an OCI image config and the layers it lists, named by its ID (the digest of
  its config); *records* (`records.py`) are the rows that say which images exist.
- *reference*: a name and tag (`busybox:latest`) pointing at an image; an image may
  have several, or none (dangling).
- *in use*: referenced by a container (its layers are held for as long as it exists);
  `removal.py` applies Docker's `rmi` rules to images in use.

`service.py` finds, names, commits and removes images; `importer.py` and `bootstrap.py`
make them from a root filesystem tar or from this host's packages; `changes.py` applies
`--change` instructions; `listing.py` applies the list's filters. The API shows them
(lamina.api.views.images).
"""

"""The OCI image format as plain data: digests, media types, references, configs and
manifests. Pure: no I/O, and nothing from lamina but its error kinds and timestamps;
everything that stores or moves images builds on it.
"""

"""Containers: OCI bundles, the runtime adapter, the per-container monitor, logs, stdio."""

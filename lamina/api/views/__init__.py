"""The Docker Engine API's shapes of lamina's objects: what inspect, list and df answer.

    containers.py  ContainerSummary, ContainerInspect
    execs.py       ExecInspectResponse
    images.py      ImageSummary, ImageInspect, HistoryResponseItem
    networks.py    NetworkResource, a container's NetworkSettings
    volumes.py     Volume, and its UsageData for `system df`

They are wire formats, so they live with the API: the services return records and
models, and only the API turns them into Docker's JSON.
"""

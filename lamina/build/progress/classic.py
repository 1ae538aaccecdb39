"""Build events as Docker's classic builder messages, for `POST /build`.

The docker CLI with `DOCKER_BUILDKIT=0` and docker-py's `images.build()` read these:

    {"stream": "Step 3/7 : RUN make\\n"}
    {"stream": " ---> Running in 0123456789ab\\n"}
    {"stream": "...the command's output..."}
    {"stream": " ---> Removed intermediate container 0123456789ab\\n"}
    {"stream": " ---> 1a2b3c4d5e6f\\n"}
    {"stream": " ---> Using cache\\n"}
    {"aux": {"ID": "sha256:…"}}
    {"stream": "Successfully built 1a2b3c4d5e6f\\n"}
    {"stream": "Successfully tagged x:latest\\n"}

With `quiet` only the image ID (as a stream line, as dockerd sends it), the aux
message and errors pass.
"""

from __future__ import annotations

from collections.abc import Iterator

from lamina.build.progress.events import Event


class ClassicMessages:
    """Converts one build's events; keeps which steps ran a container."""

    def __init__(self, *, quiet: bool = False) -> None:
        self._quiet = quiet
        self._containers: dict[int, str] = {}
        self._steps: set[int] = set()  # steps the classic builder would show

    def convert(self, event: Event) -> Iterator[Event]:
        if "error" in event or "aux" in event:
            yield event
            return
        if self._quiet:
            if "built" in event:
                yield _stream(event["built"]["id"] + "\n")
            return
        if "step" in event:
            yield from self._step(event["step"])
        elif "log" in event:
            yield _stream(event["log"]["text"])
        elif "warning" in event:
            yield _stream(f"[Warning] {event['warning']}\n")
        elif "built" in event:
            yield _stream(f"Successfully built {_short(event['built']['id'])}\n")
            for tag in event["built"]["tags"]:
                yield _stream(f"Successfully tagged {tag}\n")

    def _step(self, step: Event) -> Iterator[Event]:
        status = step["status"]
        if status == "started" and step.get("legacy"):
            self._steps.add(step["n"])
            yield _stream(step["legacy"] + "\n")
        elif step["n"] not in self._steps:
            return
        elif status == "cached":
            yield _stream(" ---> Using cache\n")
            if step.get("image"):
                yield _stream(f" ---> {_short(step['image'])}\n")
        elif status == "running":
            self._containers[step["n"]] = step["container"]
            yield _stream(f" ---> Running in {_short(step['container'])}\n")
        elif status == "done":
            container = self._containers.pop(step["n"], None)
            if container:
                yield _stream(f" ---> Removed intermediate container {_short(container)}\n")
            if step.get("image"):
                yield _stream(f" ---> {_short(step['image'])}\n")


def _stream(text: str) -> Event:
    return {"stream": text}


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:").removeprefix("build-")[:12]

"""Build events rendered: Docker's classic messages, BuildKit-style plain text, the CLI's
argument fast path."""

from __future__ import annotations

import io
from typing import Any

from lamina.build.progress.classic import ClassicMessages
from lamina.build.progress.events import Reporter, error_event
from lamina.cli.build_progress import render

IMAGE = "sha256:" + "ab" * 32


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    report = Reporter(out.append, steps=3)
    n = report.start("[1/3] FROM busybox", legacy="FROM busybox")
    report.done(n, image="sha256:" + "11" * 32)
    n = report.start("[2/3] WORKDIR /app", legacy="WORKDIR /app")
    report.cached(n, image="sha256:" + "22" * 32)
    n = report.start("[3/3] RUN make", legacy="RUN make")
    report.note(n, "cache miss: files changed: a.c (content)")
    report.running(n, "build-0123456789abcdef")
    report.log(n, "compiling\npart")
    report.log(n, "ial line\n")
    report.done(n, image=IMAGE)
    n = report.start("exporting to image")
    report.note(n, f"writing image {IMAGE} done")
    report.done(n, image=IMAGE)
    report.built(IMAGE, ["app:latest"])
    return out


def test_classic_messages() -> None:
    convert = ClassicMessages().convert
    text = "".join(m.get("stream", "") for e in events() for m in convert(e))
    assert text == (
        "Step 1/3 : FROM busybox\n ---> 111111111111\n"
        "Step 2/3 : WORKDIR /app\n ---> Using cache\n ---> 222222222222\n"
        "Step 3/3 : RUN make\n ---> Running in 0123456789ab\ncompiling\npartial line\n"
        " ---> Removed intermediate container 0123456789ab\n ---> abababababab\n"
        "Successfully built abababababab\nSuccessfully tagged app:latest\n"
    )
    quiet = [m for e in events() for m in ClassicMessages(quiet=True).convert(e)]
    assert quiet == [{"aux": {"ID": IMAGE}}, {"stream": IMAGE + "\n"}]
    failure = error_event("The command 'x' returned a non-zero code: 3", code=3)
    assert list(convert(failure)) == [failure]


def test_plain_progress() -> None:
    out = io.StringIO()
    outcome = render(events(), mode="plain", out=out)
    assert outcome.image_id == IMAGE and not outcome.error
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["#1 [1/3] FROM busybox", "#1 DONE 0.0s", ""]
    assert lines[3:5] == ["#2 [2/3] WORKDIR /app", "#2 CACHED"]
    assert "#3 cache miss: files changed: a.c (content)" in lines
    logs = [line for line in lines if line.startswith("#3 0.")]
    assert [line.split(" ", 2)[2] for line in logs] == ["compiling", "partial line"]
    assert f"#4 writing image {IMAGE} done" in lines


def test_failures_show_the_steps_output() -> None:
    report_events: list[dict[str, Any]] = []
    report = Reporter(report_events.append)
    n = report.start("[2/2] RUN exit 3")
    report.log(n, "why it failed\n")
    report.failed(n, "The command '/bin/sh -c exit 3' returned a non-zero code: 3")
    report_events.append(error_event("The command '/bin/sh -c exit 3' returned a non-zero code: 3"))
    for mode in ("plain", "quiet", "tty"):
        out = io.StringIO()
        outcome = render(iter(report_events), mode=mode, out=out)
        assert outcome.error.endswith("non-zero code: 3")
        assert "why it failed" in out.getvalue()
        assert (
            "ERROR: The command '/bin/sh -c exit 3' returned a non-zero code: 3" in out.getvalue()
        )


def test_classic_step_numbers_count_only_steps_it_shows_and_grow_past_the_plan() -> None:
    """`Step N/M`: M is what the plan expects; ONBUILD triggers may add steps to it."""
    out: list[dict[str, Any]] = []
    report = Reporter(out.append, steps=2)
    report.start("[internal] load build definition from Dockerfile")
    for text in ("FROM base", "RUN trigger", "RUN make"):
        report.start(text, legacy=text)
    legacy = [e["step"]["legacy"] for e in out]
    assert legacy == ["", "Step 1/2 : FROM base", "Step 2/2 : RUN trigger", "Step 3/3 : RUN make"]

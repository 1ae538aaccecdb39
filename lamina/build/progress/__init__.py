"""What a build reports while it runs.

Terms:
- *event*: a plain JSON-able dict a build emits through a *sink* (`events`): a step
  started, was cached, ran, logged output, finished or failed, and the image built.
- *progress*: what a step is handed to report through and to see the build's cancel
  flag (`events.Progress`).
- *classic messages*: the same events as Docker's classic builder JSON stream, for
  `POST /build` (`classic`). The lamina CLI draws the events themselves
  (`lamina.cli.build_progress`).

Imports nothing of lamina but the error kinds.
"""

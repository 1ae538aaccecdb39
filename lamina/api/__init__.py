"""The Docker Engine API (v1.45) over the daemon's unix socket: the edge of the engine.

Its one job is translation: a request's bytes become typed values (`query.py` for query
parameters, `wire.py` and `shapes.py` for JSON bodies, checked against the spec), one
call into a service of the `Engine`, and the answer encoded as dockerd encodes it; a
`LaminaError` becomes its HTTP status (or its stream message) through the one table in
`errors.py`. Nothing here decides what a container or image does.

Terms:
- *route*: a method and path pattern (`/containers/{ref}/start`), registered by each
  resource's module (`containers.py`, `images.py`, …), served under any `/v1.N` prefix.
- *stream*: an answer sent as it is produced (logs, build progress), bounded in time
  and in the number open at once (`workers.py`, `limits.py`).
- *hijacked connection*: attach and exec take over the HTTP connection for raw stdio
  (`streams.py`).

`http.py`, `reactor.py`, `bodies.py` and `workers.py` are the server: idle connections
wait in one thread, requests run on a bounded pool, bodies are capped or streamed.
"""

"""The Dockerfile language, pure: text in, typed instructions and stages out.

This package reads Dockerfiles and nothing else: no files, no processes, no store. It
imports nothing of lamina but `errors` and `oci`, so the builder and `import`/`commit
--change` share one reading of every instruction.

Terms:
- *directive*: a `# name=value` comment at the very top (`syntax`, `escape`, `check`),
  read by `directives.py`.
- *node*: one instruction as the parser sees it, a keyword, flags and arguments kept as
  written, plus any heredoc bodies (`parser.py`, `arguments.py`, `heredoc.py`);
  `dump.py` prints a tree in buildkit's format for the golden files.
- *instruction*: a node checked and converted into a frozen, typed value (`RunInstr`,
  `CopyInstr`, ...; `instructions.py`, `convert.py`, with `flags.py`, `mounts.py` for
  `RUN --mount` and `healthcheck.py`). Arguments stay as written; the builder expands
  them with `words.py` (quotes, escapes, `$VAR`; `parameters.py`, `patterns.py`).
- *stage*: the instructions from one FROM to the next; `stages.py` groups a file's
  instructions into a `StagedDockerfile`.
- *location*: where an instruction came from (file name, first and last line;
  `location.py`); a `DockerfileError` carries its file and line as data.
- *config instruction*: one that changes only the image config (ENV, EXPOSE, CMD, ...);
  `config.py` says what it changes, for a build and for `import --change` alike.

`gotext.py` holds the Go text rules (whitespace, `strconv.Quote`) that byte-for-byte
compatibility with buildkit needs.
"""

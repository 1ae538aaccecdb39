"""The `lamina` command: a thin client of the daemon's API, with docker's command names.

Each command parses its flags as the docker CLI does (`containers_args.py`,
`flag_values.py`, `conventions.py`), sends the API request (`client.py`, standard
library only), and prints the answer as docker prints it (`format.py`, `progress.py`).
The CLI holds no engine state, and a command's start costs an interpreter and a few
modules (tests/unit/test_cli_imports.py keeps it so); it borrows two formats from the
engine (build progress, stdio frames), and `lamina daemon` serves from here. `client.py`
starts a daemon for the default root when none answers (unless LAMINA_NO_AUTOSTART).
"""

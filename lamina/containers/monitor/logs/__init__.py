"""Container logs as the monitor writes them: Docker's json-file and local drivers (and
none), rotation, reading.

    config.py   HostConfig.LogConfig: the drivers lamina runs, their options, Docker's
                messages for what it refuses
    entries.py  the entry format (a JSON object a line) and splitting output into lines
    files.py    the current file and its rotated ones; rotation; compression
    writer.py   the monitor's side: output → entries → rotating files
    reader.py   the daemon's side: `logs` in bounded memory, follow across rotations
    tail.py     places found from the end: where the last N lines begin, last entries

Where a container's log lives, by its driver, is lamina.containers.logplace's. Files are
0600 (`lamina.private`): a container's output is nobody else's to read. The writer
tightens a current file that an older lamina made looser when it opens it.
"""

"""The monitor: one small process per container (and per exec), like containerd's shim.

It owns the process's stdio and log and records its exit, so containers and their logs
survive the daemon: kill -9 the daemon and containers keep running; a new daemon finds
each monitor through its state directory, and one that ended meanwhile shows its real
exit code.

    python -m lamina.containers.monitor --id ID --state-dir DIR --runtime-root DIR
        [--bundle DIR] [--log FILE [--log-config LOGCONFIG_JSON]] [--runtime runc]
        [--tty] [--stdin] [--stdin-once]
        [--exec PROCESS_JSON --exec-id EID] [--wait-attach] [--ready-fd N]
        [--console-size HxW]

    lifecycle.py  create, launch, serve, finish (the monitor proper)
    reaper.py     subreaper, SIGCHLD, exit statuses
    loop.py       the selector loop and its channels (pipes, pty, sockets)
    attach.py     attach clients: output fan-out, shared stdin (protocol in its docstring)
    control.py    resize / close-stdin / start / wait requests (protocol in its docstring)
    terminal.py   the pty master from runc's console socket; window size
    cgroups.py    OOM-kill count of the container's memory cgroup
    sockets.py    unix sockets at paths longer than a socket address allows
    notes.py      the monitor's diagnostics on its stderr
    options.py    the command line (and the fork server's JSON), parsed and built
    client.py     the daemon's side: spawn + readiness, attach, control, wait
    state.py      its state file: the files of one monitor, the state it records
    stdio.py      the attach request and Docker's multiplexed stdio frames
    logs/         the log drivers' files: writing, rotating, reading

The daemon's side (lamina.containers) reaches it through client.py and the formats
(options, state, stdio, logs); nothing here imports the rest of lamina.containers.
Keep imports here light: this package runs once per container for its whole life.
"""

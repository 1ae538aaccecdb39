"""The container service on a FakeRuntime: lifecycle, restart policies, waits, races.

The real Engine and ContainerService, in this process and without root: the fake runs
no process (tests/support/fakeruntime.py), so what is checked here is the service's own
bookkeeping; tests/integration drives the same through runc.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lamina.containers.model import Container, Status
from lamina.containers.monitor.state import Status as MonitorStatus
from lamina.containers.service import StartFailed, start_waiting
from lamina.containers.spec import ContainerSpec
from lamina.engine import Engine
from lamina.errors import Conflict, InvalidArgument, NotFound
from tests.support.fakeruntime import FakeRuntime, fake_engine, quiesce, scratch_image, threads
from tests.support.wait import wait_for


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = fake_engine(tmp_path)
    scratch_image(engine, "fake", ["sleep"])
    yield engine
    quiesce(engine)
    engine.close()


def fake(engine: Engine) -> FakeRuntime:
    runtime = engine.containers.runner.runtime
    assert isinstance(runtime, FakeRuntime)
    return runtime


def create(engine: Engine, cmd: list[str] | None = None, **host: Any) -> Container:
    body: dict[str, Any] = {"Image": "fake", "HostConfig": {"NetworkMode": "none", **host}}
    if cmd is not None:
        body["Cmd"] = cmd
    return engine.containers.create(ContainerSpec.from_body(body))


def status(engine: Engine, cid: str) -> Status:
    return engine.containers.get(cid).state.status


def exited(engine: Engine, cid: str) -> Container:
    wait_for(lambda: status(engine, cid) == Status.EXITED, what=f"{cid[:12]} to exit")
    return engine.containers.get(cid)


# -- lifecycle ----------------------------------------------------------------------------


def test_create_makes_a_record_and_nothing_in_the_runtime(engine: Engine) -> None:
    c = create(engine)
    assert status(engine, c.id) == Status.CREATED
    assert fake(engine).ids() == []
    assert not fake(engine).mounter.is_mounted(engine.containers.runner.rootfs(c.id))


def test_start_runs_the_command_through_the_runtime(engine: Engine) -> None:
    c = create(engine, ["sleep", "60"])
    assert engine.containers.start(c.id) is True
    state = engine.containers.get(c.id).state
    assert state.status == Status.RUNNING
    assert state.pid == fake(engine).process(c.id).pid
    assert fake(engine).process(c.id).args == ["sleep", "60"]
    assert [op for op, _ in fake(engine).calls] == ["create", "start"]
    assert fake(engine).mounter.is_mounted(engine.containers.runner.rootfs(c.id))


def test_starting_a_running_container_is_a_no_op(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    assert engine.containers.start(c.id) is False  # Docker's 304
    assert [op for op, _ in fake(engine).calls] == ["create", "start"]


def test_stop_sends_sigterm_and_records_the_exit(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    assert engine.containers.stop(c.id, timeout=5) is True
    state = engine.containers.get(c.id).state
    assert (state.status, state.exit_code, state.stopped_by_user) == (Status.EXITED, 143, True)
    assert fake(engine).ids() == []  # the monitor deleted it from the runtime
    assert not fake(engine).mounter.is_mounted(engine.containers.runner.rootfs(c.id))


def test_stop_kills_a_process_that_ignores_sigterm_after_the_timeout(engine: Engine) -> None:
    c = create(engine, ["stubborn"])
    engine.containers.start(c.id)
    engine.containers.stop(c.id, timeout=0)
    assert engine.containers.get(c.id).state.exit_code == 137


def test_stopping_a_stopped_container_is_a_no_op(engine: Engine) -> None:
    c = create(engine)
    assert engine.containers.stop(c.id) is False


def test_kill_signals_the_process(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    engine.containers.kill(c.id, signal="SIGINT")
    assert exited(engine, c.id).state.exit_code == 130


def test_kill_of_a_stopped_container_is_a_conflict(engine: Engine) -> None:
    c = create(engine)
    with pytest.raises(Conflict, match="is not running"):
        engine.containers.kill(c.id)


def test_an_exit_of_its_own_is_recorded_with_its_code(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    fake(engine).process(c.id).exit(3)
    state = exited(engine, c.id).state
    assert (state.exit_code, state.stopped_by_user) == (3, False)


def test_a_command_that_does_not_exist_fails_the_start_with_127(engine: Engine) -> None:
    c = create(engine, ["nosuch"])
    with pytest.raises(StartFailed) as caught:
        engine.containers.start(c.id)
    assert caught.value.exit_code == 127
    state = engine.containers.get(c.id).state
    assert state.status == Status.CREATED  # as Docker: a container that never ran
    assert (state.exit_code, "executable file not found" in state.error) == (127, True)
    assert not fake(engine).mounter.is_mounted(engine.containers.runner.rootfs(c.id))


def test_a_container_restarts_after_it_exited(engine: Engine) -> None:
    c = create(engine, ["true"])
    engine.containers.start(c.id)
    exited(engine, c.id)
    engine.containers.start(c.id)
    assert exited(engine, c.id).state.exit_code == 0
    assert [op for op, _ in fake(engine).calls].count("create") == 2


def test_remove_of_a_running_container_needs_force(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    with pytest.raises(Conflict, match="container is running"):
        engine.containers.remove(c.id)
    engine.containers.remove(c.id, force=True)
    with pytest.raises(NotFound):
        engine.containers.get(c.id)
    assert fake(engine).ids() == []
    assert not engine.containers.runner.dir(c.id).exists()


def test_auto_remove_removes_it_when_it_exits(engine: Engine) -> None:
    c = create(engine, ["exit", "2"], AutoRemove=True)
    removed = engine.containers.wait(c.id, condition="removed")
    engine.containers.start(c.id)
    assert removed.result(poll=0.05) == 2
    with pytest.raises(NotFound):
        engine.containers.get(c.id)


def test_exec_runs_in_the_running_container(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    ex = engine.execs.create(c.id, {"Cmd": ["exit", "4"]})
    engine.execs.start(ex.id, attached=False)
    assert ex.done.wait(10)
    assert ex.exit_code == 4
    assert status(engine, c.id) == Status.RUNNING  # an exec's end is not the container's


def test_an_attached_exec_waits_for_its_client(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    ex = engine.execs.create(c.id, {"Cmd": ["exit", "0"]})
    engine.execs.start(ex.id, attached=True)
    assert [op for op, _ in fake(engine).calls].count("exec") == 0  # held for the attach
    start_waiting(engine.containers.runner.monitors, engine.execs.files(ex))
    assert ex.done.wait(10)
    assert ex.exit_code == 0


def test_a_start_with_an_attach_waiting_holds_the_process_for_it(engine: Engine) -> None:
    c = create(engine, ["exit", "0"])
    seen: list[MonitorStatus] = []
    engine.containers.attach_hooks[c.id] = [lambda state: seen.append(state.status)]
    engine.containers.start(c.id)
    assert seen == [MonitorStatus.CREATED]  # the attach was connected before it ran
    assert exited(engine, c.id).state.exit_code == 0


def test_exec_of_a_missing_command_fails_with_127(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    ex = engine.execs.create(c.id, {"Cmd": ["nosuch"]})
    with pytest.raises(StartFailed):
        engine.execs.start(ex.id, attached=False)
    assert ex.exit_code == 127


# -- restart policies ----------------------------------------------------------------


def restarted(engine: Engine, cid: str, count: int) -> Container:
    def done() -> bool:
        c = engine.containers.get(cid)
        return c.state.restart_count >= count and c.state.running

    wait_for(done, what=f"restart {count} of {cid[:12]}")
    return engine.containers.get(cid)


def test_always_restarts_after_an_exit(engine: Engine) -> None:
    c = create(engine, RestartPolicy={"Name": "always"})
    engine.containers.start(c.id)
    first = fake(engine).process(c.id)
    first.exit(0)
    again = restarted(engine, c.id, 1)
    assert fake(engine).process(c.id) is not first
    assert again.state.pid == fake(engine).process(c.id).pid


def test_a_stop_by_the_user_is_not_restarted(engine: Engine) -> None:
    c = create(engine, RestartPolicy={"Name": "always"})
    engine.containers.start(c.id)
    engine.containers.stop(c.id, timeout=5)
    # The exit's thread decides on a restart before it ends: once it ended, none is due.
    wait_for(lambda: not threads(f"watch-{c.id[:12]}"), what="the exit to be handled")
    assert threads(f"restart-{c.id[:12]}") == []
    assert status(engine, c.id) == Status.EXITED


def test_on_failure_stops_after_its_retries(engine: Engine) -> None:
    policy = {"Name": "on-failure", "MaximumRetryCount": 2}
    c = create(engine, ["false"], RestartPolicy=policy)
    engine.containers.start(c.id)

    def gave_up() -> bool:
        starts = [op for op, _ in fake(engine).calls].count("start")
        settled = not threads("restart-", f"watch-{c.id[:12]}")
        return starts == 3 and settled and status(engine, c.id) == Status.EXITED

    wait_for(gave_up, what="two restarts, then none")
    state = engine.containers.get(c.id).state
    assert (state.restart_count, state.exit_code) == (2, 1)


def test_on_failure_leaves_a_success_alone(engine: Engine) -> None:
    c = create(engine, ["true"], RestartPolicy={"Name": "on-failure"})
    engine.containers.start(c.id)
    assert exited(engine, c.id).state.restart_count == 0
    assert [op for op, _ in fake(engine).calls].count("start") == 1


# -- wait conditions -----------------------------------------------------------------


def test_not_running_is_met_at_once_by_a_stopped_container(engine: Engine) -> None:
    c = create(engine, ["exit", "5"])
    engine.containers.start(c.id)
    exited(engine, c.id)
    assert engine.containers.wait(c.id).result(poll=0.05) == 5


def test_not_running_waits_for_the_exit_of_a_running_one(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    wait = engine.containers.wait(c.id, condition="not-running")
    assert not wait.settled
    fake(engine).process(c.id).exit(6)
    assert wait.result(poll=0.05) == 6


def test_next_exit_registered_before_start_sees_that_start_s_exit(engine: Engine) -> None:
    c = create(engine, ["exit", "7"])
    wait = engine.containers.wait(c.id, condition="next-exit")
    assert not wait.settled  # not-running would be met; next-exit waits for an exit
    engine.containers.start(c.id)
    assert wait.result(poll=0.05) == 7


def test_removed_waits_for_the_removal_not_the_exit(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    removed = engine.containers.wait(c.id, condition="removed")
    engine.containers.stop(c.id, timeout=5)
    assert not removed.settled
    engine.containers.remove(c.id)
    assert removed.result(poll=0.05) == 143


def test_removing_a_created_container_ends_its_exit_waits(engine: Engine) -> None:
    c = create(engine)
    next_exit = engine.containers.wait(c.id, condition="next-exit")
    engine.containers.remove(c.id)
    assert next_exit.result(poll=0.05) == 0


def test_an_unknown_condition_is_refused(engine: Engine) -> None:
    c = create(engine)
    with pytest.raises(InvalidArgument, match="invalid condition"):
        engine.containers.wait(c.id, condition="whenever")


# -- races with an exit ----------------------------------------------------------------


def ended_in_the_runtime_only(engine: Engine, c: Container, code: int) -> None:
    """The process ends and its monitor deletes it from the runtime, while the service
    (whose lock the caller holds) has not yet recorded the exit."""
    fake(engine).process(c.id).exit(code)
    wait_for(lambda: fake(engine).state(c.id) is None, what="the monitor's delete")
    assert engine.containers.get(c.id).state.running


def test_kill_racing_an_exit_is_not_an_error(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    with engine.containers.lock:
        ended_in_the_runtime_only(engine, c, 9)
        engine.containers.kill(c.id)  # the runtime no longer knows it: fine
    state = exited(engine, c.id).state
    assert (state.exit_code, state.stopped_by_user) == (9, True)


def test_rm_force_racing_an_exit_removes_it(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    with engine.containers.lock:
        ended_in_the_runtime_only(engine, c, 0)
        engine.containers.remove(c.id, force=True)  # waits for the exit to be recorded
    with pytest.raises(NotFound):
        engine.containers.get(c.id)
    assert fake(engine).ids() == []


def test_rm_force_from_many_threads_at_once(engine: Engine) -> None:
    c = create(engine)
    engine.containers.start(c.id)
    errors: list[Exception] = []

    def remove() -> None:
        try:
            engine.containers.remove(c.id, force=True)
        except NotFound:
            pass  # another one was first
        except Exception as err:  # pragma: no cover - the failure being tested for
            errors.append(err)

    threads = [threading.Thread(target=remove) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    with pytest.raises(NotFound):
        engine.containers.get(c.id)


# -- a daemon restart ------------------------------------------------------------------


# The first engine's watch threads end as its process would (FakeMonitors.close).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_new_engine_adopts_running_containers_and_records_exits_meanwhile(
    tmp_path: Path,
) -> None:
    runtime = FakeRuntime(tmp_path / "run" / "runc")
    first = fake_engine(tmp_path, runtime)
    scratch_image(first, "fake", ["sleep"])
    running, ending = create(first), create(first)
    first.containers.start(running.id)
    first.containers.start(ending.id)
    first.close()  # the daemon stops; its containers and their monitors do not
    runtime.process(ending.id).exit(4)
    wait_for(lambda: runtime.state(ending.id) is None, what="the monitor to record the exit")

    second = fake_engine(tmp_path, runtime)
    try:
        second.restore()
        assert status(second, running.id) == Status.RUNNING
        assert second.containers.get(ending.id).state.exit_code == 4
        assert status(second, ending.id) == Status.EXITED
        runtime.process(running.id).exit(5)  # the new engine watches it
        assert exited(second, running.id).state.exit_code == 5
    finally:
        quiesce(second)
        second.close()


# -- its writable layer: an active snapshot of the layer store -----------------------------


def test_a_containers_writable_layer_is_a_snapshot_of_the_store(engine: Engine) -> None:
    c = create(engine)
    runner = engine.containers.runner
    assert engine.layers.active() == [f"container-{c.id}"]
    assert runner.upper(c.id).is_dir()
    assert not (runner.dir(c.id) / "upper").exists()
    engine.containers.remove(c.id)
    assert engine.layers.active() == []


def test_restore_moves_an_older_laminas_layers_in_and_sweeps_the_rest(tmp_path: Path) -> None:
    runtime = FakeRuntime(tmp_path / "run" / "runc")
    first = fake_engine(tmp_path, runtime)
    scratch_image(first, "fake", ["sleep"])
    old, new = create(first), create(first)
    first.layers.prepare("build-0123456789abcdef", None)  # a build the daemon died in
    first.close()
    # `old` as an older lamina left it: its upper and work dirs in its own folder.
    folder = first.containers.runner.dir(old.id)
    snapshot = first.layers.upper(f"container-{old.id}").parent
    (snapshot / "upper" / "mine").write_text("kept")
    for name in ("upper", "work"):
        (snapshot / name).rename(folder / name)
    (snapshot / "snapshot.json").unlink()
    snapshot.rmdir()

    second = fake_engine(tmp_path, runtime)
    try:
        second.restore()
        assert second.layers.active() == sorted(f"container-{c.id}" for c in (old, new))
        assert (second.containers.runner.upper(old.id) / "mine").read_text() == "kept"
        assert not {"upper", "work"} & {p.name for p in folder.iterdir()}
        second.containers.start(old.id)
    finally:
        quiesce(second)
        second.close()
    assert second.layers.active() == []

"""A poison message (a command that kills the process running it) among
innocent ones, with real run_queue processes restarted as systemd would:
only the poison message fails; its neighbours all run."""

import pytest

from djqueue import State
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]

#: More restarts than the poison message's attempts: a bound, not a target.
MAX_STARTS = 8


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_a_poison_message_fails_alone_and_its_neighbours_all_run(
    start_consumer, worker_type
):
    """The poison message is claimed with three innocent ones, at the default
    concurrency: the killed consumer is restarted, every innocent message
    ends done and the poison message fails with "worker lost" after its
    attempts. Process workers lose only a child, so nothing is restarted."""
    first = commands.record_run("innocent", 1.0)
    poison = commands.kill_own_process()
    innocent = [first, *commands.record_run.map([("innocent", 1.0)] * 19)]
    consumers = []

    def start():
        consumers.append(start_consumer("--worker-type", worker_type, lease=2))

    def finished_restarting_dead_consumers():
        if consumers[-1].process.poll() is not None:
            logs = "\n".join(proc.log()[-2000:] for proc in consumers)
            assert len(consumers) < MAX_STARTS, f"restarted too often:\n{logs}"
            start()
        return all(r.ready() for r in [poison, *innocent])

    start()
    wait_until(finished_restarting_dead_consumers, 240, "every message finished")

    message = poison.message
    assert message.state == State.FAILED
    assert "worker lost" in message.error
    assert message.attempts == message.max_attempts == 3
    assert {r.id: r.status for r in innocent} == {r.id: State.DONE for r in innocent}
    finished = Run.objects.filter(finished=True).values_list("message_id", flat=True)
    assert set(finished) == {r.id for r in innocent}
    if worker_type == "process":
        assert len(consumers) == 1
    else:
        assert len(consumers) == message.max_attempts + 1

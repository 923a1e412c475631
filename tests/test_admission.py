"""The server's queue (server/admission.py): order, places, slots, release, and equal shares (threads)."""

import threading
import time

from server.admission import FairQueue


def test_first_come_first_served_with_places():
    queue = FairQueue(slots=1)
    a, b, c = queue.join(), queue.join(), queue.join()
    assert [queue.ahead(t) for t in (a, b, c)] == [0, 1, 2]
    assert not queue.acquire(b, timeout=0)  # not its turn, though a slot is free
    assert queue.acquire(a, timeout=0)
    assert queue.training == 1 and [queue.ahead(t) for t in (b, c)] == [0, 1]
    assert not queue.acquire(b, timeout=0.01)  # its turn, but the one slot is taken
    queue.release(a)
    assert queue.acquire(b, timeout=0) and not queue.acquire(c, timeout=0)


def test_leaving_the_line_moves_everyone_up_and_release_is_idempotent():
    queue = FairQueue(slots=1)
    a, b, c = queue.join(), queue.join(), queue.join()
    queue.acquire(a, timeout=0)
    queue.release(b)  # paused while waiting
    queue.release(b)
    assert queue.ahead(c) == 0 and queue.waiting == 1
    queue.release(a)
    assert queue.acquire(c, timeout=0)


def test_k_slots_train_at_once():
    queue = FairQueue(slots=2)
    tickets = [queue.join() for _ in range(3)]
    assert queue.acquire(tickets[0], 0) and queue.acquire(tickets[1], 0) and not queue.acquire(tickets[2], 0.01)


def test_threads_drain_in_order_never_more_than_k_at_once():
    queue, slots = FairQueue(slots=2), 2
    started, busy, most = [], [0], [0]
    lock = threading.Lock()
    tickets = [queue.join() for _ in range(8)]

    def session(index: int) -> None:
        assert queue.acquire(tickets[index])
        with lock:
            started.append(index)
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        time.sleep(0.02)  # "training"
        with lock:
            busy[0] -= 1
        queue.release(tickets[index])

    threads = [threading.Thread(target=session, args=(i,)) for i in reversed(range(8))]  # started out of order
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # two start at once, so neighbours may append in either order; none overtakes by a whole slot
    assert sorted(started) == list(range(8))
    assert all(abs(position - index) < slots for position, index in enumerate(started))
    assert most[0] == slots and queue.training == 0 and queue.waiting == 0


def test_a_finished_run_keeps_its_slot_until_released_again():
    queue = FairQueue(slots=1)
    a, b = queue.join(), queue.join()
    queue.acquire(a, timeout=0)
    queue.release(a, linger=60)  # ended; its page draws the outcome
    assert queue.training == 0  # not training, yet its slot is kept
    assert not queue.acquire(b, timeout=0.05)
    queue.release(a)  # the outcome is drawn
    assert queue.acquire(b, timeout=0)


def test_a_kept_slot_expires_by_itself_and_wakes_the_next_in_line():
    """A tab closed before its outcome was drawn never releases again: the next run starts at the
    deadline, woken by it, not by a poll (acquire without a timeout would otherwise wait forever)."""
    queue = FairQueue(slots=1)
    a, b = queue.join(), queue.join()
    queue.acquire(a, timeout=0)
    queue.release(a, linger=0.2)
    started = time.monotonic()
    assert queue.acquire(b)
    assert 0.15 <= time.monotonic() - started < 5


def test_the_queue_is_idle_only_while_no_run_trains_waits_or_keeps_its_slot():
    queue = FairQueue(slots=1)
    assert queue.idle
    a = queue.join()
    assert not queue.idle  # waiting
    queue.acquire(a, timeout=0)
    assert not queue.idle  # training
    queue.release(a, linger=60)
    assert not queue.idle  # its page draws the outcome
    queue.release(a)
    assert queue.idle


def test_only_a_training_run_keeps_its_slot():
    queue = FairQueue(slots=1)
    a, b = queue.join(), queue.join()
    queue.release(b, linger=60)  # left the line while waiting: nothing to keep
    queue.acquire(a, timeout=0)
    queue.release(a, linger=60)
    queue.release(a, linger=60)  # a second release keeps nothing more
    c = queue.join()
    assert queue.acquire(c, timeout=0)


def test_a_turn_is_over_only_after_its_time_and_while_another_waits():
    queue = FairQueue(slots=1, turn=0.05)
    a = queue.join()
    queue.acquire(a, timeout=0)
    assert not queue.turn_over(a)  # its turn has just begun
    time.sleep(0.06)
    assert not queue.turn_over(a)  # no one waits: it trains on
    b = queue.join()
    assert queue.turn_over(a) and not queue.turn_over(b)  # b holds no slot
    queue.pass_turn(a)
    assert queue.acquire(b, timeout=0) and queue.ahead(a) == 0 and not queue.turn_over(b)


def test_without_a_turn_length_a_run_keeps_its_slot_to_the_end():
    queue = FairQueue(slots=1)
    a, b = queue.join(), queue.join()
    queue.acquire(a, timeout=0)
    time.sleep(0.01)
    assert not queue.turn_over(a) and not queue.acquire(b, timeout=0)


def test_runs_take_turns_in_order_and_a_short_one_is_not_held_up_by_long_ones():
    """Three threads step 'epochs' of 2 ms in turns of 10 ms: turns rotate a, b, c, a, b, c, ...
    (never more than one at once), and a short run that joins behind two long ones ends first."""
    queue = FairQueue(slots=1, turn=0.01)
    log, lock = [], threading.Lock()
    epochs = {"long 1": 60, "long 2": 60, "short": 5}
    tickets = {name: queue.join() for name in epochs}
    ended = []

    def session(name: str) -> None:
        ticket, left = tickets[name], epochs[name]
        assert queue.acquire(ticket)
        while left:
            if queue.turn_over(ticket):
                queue.pass_turn(ticket)
                assert queue.acquire(ticket)
            with lock:
                log.append(name)
                assert queue.training == 1
            time.sleep(0.002)
            left -= 1
        ended.append(name)
        queue.release(ticket)

    threads = [threading.Thread(target=session, args=(name,)) for name in epochs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    turns = [name for i, name in enumerate(log) if i == 0 or log[i - 1] != name]
    assert turns[:3] == ["long 1", "long 2", "short"] and ended[0] == "short"
    rotation = [name for name in turns if name != "short"]
    assert all(a != b for a, b in zip(rotation, rotation[1:]))  # the long ones alternate, turn by turn
    assert len(turns) >= 10 and queue.training == 0 and queue.waiting == 0


def test_a_run_about_to_end_finishes_rather_than_wait_a_round_for_its_last_epochs():
    queue = FairQueue(slots=1, turn=0.01)
    a, _waiting = queue.join(), queue.join()  # another run waits
    queue.acquire(a, timeout=0)
    time.sleep(0.02)
    assert queue.turn_over(a, seconds_left=0.5)
    assert not queue.turn_over(a, seconds_left=0.01)  # at most a turn left: it ends in this one


def test_passing_the_turn_wakes_the_next_in_line_at_once():
    """The next run waits with no timeout (no poll to rescue it): only the queue's signal starts it."""
    queue = FairQueue(slots=1, turn=0.01)
    a, b = queue.join(), queue.join()
    queue.acquire(a, timeout=0)
    started = threading.Event()
    waiter = threading.Thread(target=lambda: queue.acquire(b) and started.set(), daemon=True)
    waiter.start()
    time.sleep(0.05)
    assert not started.is_set()
    queue.pass_turn(a)
    assert started.wait(timeout=5) and queue.ahead(a) == 0 and queue.training == 1


def test_a_ticket_that_left_the_line_never_starts():
    queue = FairQueue(slots=1)
    a = queue.join()
    queue.release(a)
    assert not queue.acquire(a, timeout=None)  # at once, not never

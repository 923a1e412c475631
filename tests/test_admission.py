"""The server's queue (core/admission.py): order, places, slots, release, and equal shares (threads)."""

import threading
import time

from core.admission import FairQueue


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


def test_only_a_training_run_keeps_its_slot():
    queue = FairQueue(slots=1)
    a, b = queue.join(), queue.join()
    queue.release(b, linger=60)  # left the line while waiting: nothing to keep
    queue.acquire(a, timeout=0)
    queue.release(a, linger=60)
    queue.release(a, linger=60)  # a second release keeps nothing more
    c = queue.join()
    assert queue.acquire(c, timeout=0)

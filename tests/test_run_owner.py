"""The Train page's RunOwner: a newer script run's claim stops an older run's training loop at once."""

import threading

from core.config import Config
from core.trainer import Trainer
from pages.ui.train.state import RunOwner


def train_until_superseded(owner: RunOwner, trainer: Trainer, claim: int, started: threading.Event) -> None:
    while owner.step(trainer, claim):
        started.set()


def test_a_newer_claim_stops_the_older_loop_before_its_next_epoch():
    owner, trainer = RunOwner(), Trainer(Config().replace(epochs=100_000))
    owner.claim()
    started = threading.Event()
    loop = threading.Thread(target=train_until_superseded, args=(owner, trainer, owner.newest, started))
    loop.start()
    started.wait(timeout=30)
    owner.claim()  # a click: the old loop may be mid-epoch, and the claim waits for that epoch
    epoch_at_claim = trainer.epoch
    loop.join(timeout=30)
    assert not loop.is_alive()
    assert 0 < epoch_at_claim == trainer.epoch < 100_000


def test_an_outcome_is_left_only_by_the_newest_claim_and_taken_once():
    owner = RunOwner()
    owner.claim()
    old = owner.newest
    owner.claim()  # a callback of a newer run
    assert not owner.finish(old, status="finished")
    assert owner.claim() == {}

    current = owner.newest
    assert owner.finish(current, status="paused")
    assert owner.claim() == {"status": "paused"}  # the next script run applies it...
    assert owner.claim() == {}  # ...once


def test_a_superseded_claim_steps_nothing():
    owner, trainer = RunOwner(), Trainer(Config().replace(epochs=5))
    owner.claim()
    first = owner.newest
    assert owner.step(trainer, first) and trainer.epoch == 1
    owner.claim()
    assert not owner.step(trainer, first) and trainer.epoch == 1

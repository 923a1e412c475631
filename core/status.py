"""Where a Train page run is (Status), what can happen to it (Event), and the one table of transitions
between them: the page's callbacks and the runs archive both read these, so neither keeps a copy."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where the session's run is. A StrEnum: the counter prints it, and it equals its text."""

    IDLE = "idle"  # no run
    RUNNING = "running"  # training, or asked to
    STEP = "step"  # asked to train one epoch, then pause
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    DIVERGED = "diverged"  # the loss or a gradient became NaN/inf
    FAILED = "failed"  # training raised (CUDA out of memory, a lost device)

    @property
    def ended(self) -> bool:
        """Over: Train starts a fresh run of the same config."""
        return self in (Status.STOPPED, Status.FINISHED, Status.DIVERGED, Status.FAILED)

    @property
    def resumable(self) -> bool:
        return self in (Status.RUNNING, Status.PAUSED)


class Event(StrEnum):
    TRAIN = "train"  # Train or Resume clicked
    STEP = "step"  # Step clicked
    BEGIN = "begin"  # the training loop starts on a run asked to train or step
    PAUSE = "pause"
    STOP = "stop"
    RESET = "reset"
    MORE_EPOCHS = "more epochs"  # epochs raised past the run's end
    RAN = "ran"  # the training loop ended: the run is done, or it was one step
    LOADED = "loaded"  # a checkpoint replaced the run
    FAILED = "failed"


def transition(status: Status, event: Event, *, done: bool = False, diverged: bool = False,
               single_step: bool = False) -> Status:
    """The run's next status; `done` and `diverged` describe the trainer after the event."""
    if event in (Event.RAN, Event.LOADED, Event.PAUSE, Event.MORE_EPOCHS):
        if event is Event.PAUSE and status is not Status.RUNNING:
            return status  # a Pause that lands after the run ended changes nothing
        if event is Event.MORE_EPOCHS and status is not Status.FINISHED:
            return status
        if diverged:
            return Status.DIVERGED
        if done:
            return Status.FINISHED
        return Status.RUNNING if event is Event.RAN and not single_step else Status.PAUSED
    return {Event.TRAIN: Status.RUNNING, Event.STEP: Status.STEP, Event.BEGIN: Status.RUNNING,
            Event.STOP: Status.STOPPED, Event.RESET: Status.IDLE, Event.FAILED: Status.FAILED}[event]

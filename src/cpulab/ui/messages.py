"""Messages the app's workers and widgets post upwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from cpulab.engine.cores import CoreSplit
from cpulab.engine.events import Event, Phase
from cpulab.engine.session import Outcome
from cpulab.ui.scaling import Entry
from cpulab.ui.workspace import HistoryQuery

if TYPE_CHECKING:  # the search itself loads when advice is asked for
    from cpulab.engine.advise_runs import AdviceOutcome


@dataclass
class RunEvent(Message):
    """An event of the running child that changes more than its status line (a result,
    an error, the cancel, a cluster's load), in the order the supervisor handed it on,
    with the phase that was the latest then: a later one may be on screen before it."""

    event: Event
    phase: Phase | None = None


@dataclass
class SplitChanged(Message):
    """The core split was edited: a usable split, or the reason there is none."""

    split: CoreSplit | None
    problem: str | None


@dataclass
class RunEnded(Message):
    """The run or sweep is over, stored and recorded as its outcome says."""

    outcome: Outcome


@dataclass
class AdviceEnded(Message):
    """An advice search is over: how (None where it raised, `problem` says why)."""

    title: str
    ended: AdviceOutcome | None
    problem: str | None = None


@dataclass
class StoreProblem(Message):
    """A result or a sweep's end could not be written to the store; the lab goes on."""

    text: str


@dataclass
class HistoryLoaded(Message):
    """Earlier results the workspace asked for, oldest first, and the stored rows that
    could not be read, one line each."""

    query: HistoryQuery
    entries: list[Entry]
    source: str
    skipped: list[str]

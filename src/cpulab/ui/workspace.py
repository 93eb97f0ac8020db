"""What the results table and the chart show: a choice the user sees and changes.

By default, every result of this app session, and the history of the task chosen in the
list (the newest `HISTORY_LIMIT` results of this machine, read from the store). Filters
narrow both; hidden results stay out until shown again; deleted ones leave the store's
reads too (it keeps them, marked). Plain Python: no Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cpulab.ui.scaling import Entry

HISTORY_LIMIT = 200  # earlier results read for one choice of task and filters


@dataclass(frozen=True)
class Filters:
    """None is "any"; `task` None follows the task chosen in the list for the history."""

    task: str | None = None
    variant: str | None = None  # "" is the plain task, no variant
    scale: str | None = None
    machine: int | None = None  # a machine id of the store; None: this machine
    sweep: str | None = None
    history: bool = True  # earlier results, besides this session's

    def admits(self, entry: Entry) -> bool:
        r = entry.result
        return (
            (self.task is None or r.task == self.task)
            and (self.variant is None or r.variant == self.variant)
            and (self.scale is None or r.scale == self.scale)
            and (self.sweep is None or entry.sweep == self.sweep)
            # Another machine's history is read from the store; this session ran here.
            and (self.machine is None or not entry.this_session)
        )


@dataclass(frozen=True)
class HistoryQuery:
    """Which earlier results to read from the store for the current choice."""

    task: str
    scale: str | None
    machine: int | None  # None: this machine
    sweep: str | None


class Workspace:
    def __init__(self) -> None:
        self.session: list[Entry] = []  # run in this app session, oldest first
        self.history: list[Entry] = []  # read from the store for `loaded_for`
        self.loaded_for: HistoryQuery | None = None
        self.filters = Filters()
        self.hidden: set[tuple] = set()  # entry idents

    def add(self, entry: Entry) -> None:
        self.session.append(entry)

    def query(self, chosen_task: str) -> HistoryQuery | None:
        """The history the current choice needs; None when it needs none."""
        if not self.filters.history:
            return None
        f = self.filters
        return HistoryQuery(f.task or chosen_task, f.scale, f.machine, f.sweep)

    def set_history(self, query: HistoryQuery, entries: Iterable[Entry]) -> None:
        """The store's answer to `query`: earlier results, oldest first. Those this session
        ran are its own entries already."""
        mine = {e.point_id for e in self.session if e.point_id is not None}
        self.history = [e for e in entries if e.point_id not in mine]
        self.loaded_for = query

    def shown(self, chosen_task: str) -> list[Entry]:
        """What the table and the chart show, oldest first."""
        return [e for e in self.admitted(chosen_task) if e.ident not in self.hidden]

    def hidden_here(self, chosen_task: str) -> int:
        """How many hidden results the current choice would show, were they not hidden."""
        return sum(e.ident in self.hidden for e in self.admitted(chosen_task))

    def admitted(self, chosen_task: str) -> list[Entry]:
        """What the current choice shows, hidden results too, oldest first."""
        wanted = self.query(chosen_task)
        earlier = self.history if wanted is not None and wanted == self.loaded_for else []
        return [e for e in [*earlier, *self.session] if self.filters.admits(e)]

    def replace(self, old: Entry, new: Entry) -> None:
        """`new` in the place of `old`, this session's entry of the same result (found since
        in the store), and hidden where `old` was."""
        self.session[next(i for i, e in enumerate(self.session) if e is old)] = new
        if old.ident in self.hidden:
            self.hidden.remove(old.ident)
            self.hidden.add(new.ident)

    def hide(self, entries: Iterable[Entry]) -> None:
        self.hidden.update(e.ident for e in entries)

    def show_hidden(self) -> int:
        """Bring back every hidden entry; returns how many there were."""
        count = len(self.hidden)
        self.hidden.clear()
        return count

    def clear_session(self) -> int:
        """Hide what this session ran so far (it stays in the store); returns how many."""
        before = len(self.hidden)
        self.hide(self.session)
        return len(self.hidden) - before

    def forget(self, point_ids: Iterable[int]) -> None:
        """Drop entries whose rows were deleted from the store."""
        gone = set(point_ids)
        self.session = [e for e in self.session if e.point_id not in gone]
        self.history = [e for e in self.history if e.point_id not in gone]

    def restore(self, entries: Iterable[Entry]) -> None:
        """Put back entries whose deletion was undone: this session's where they were."""
        for entry in entries:
            if entry.this_session:
                self.session.append(entry)
                self.session.sort(key=lambda e: e.created_at or 0.0)
            else:
                self.history.append(entry)
                self.history.sort(key=lambda e: e.point_id or 0)

    def describe(self, chosen_task: str, machine_label: str | None = None) -> str:
        """The current choice in words, for the chart's title; `machine_label` names the
        machine filtered on."""
        f = self.filters
        if f.task is None:
            chosen = f"this session + {chosen_task} history" if f.history else "this session"
        else:
            chosen = f.task if f.history else f"{f.task}, this session"
        return ", ".join([chosen, *self.narrowing(chosen_task, machine_label)])

    def narrowing(self, chosen_task: str, machine_label: str | None = None) -> list[str]:
        """What keeps results of the chosen task out of view, in words: the filters beyond
        the task, and the hidden results the choice would otherwise show."""
        f = self.filters
        parts = []
        if f.variant is not None:
            parts.append(f"[{f.variant}]" if f.variant else "no variant")
        if f.scale is not None:
            parts.append(f.scale)
        if f.sweep is not None:
            parts.append(f"sweep {f.sweep}")
        if f.machine is not None:
            parts.append(machine_label or f"machine {f.machine}")
        if hidden := self.hidden_here(chosen_task):
            parts.append(f"{hidden} hidden")
        return parts

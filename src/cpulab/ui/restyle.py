"""A change of classes on a container that restyles only what the classes can change.

Textual restyles a node and every widget under it at each change of its classes, each
against every rule of the stylesheet (about 300 here, with the widgets' own). For #main
at 80x24 that is 28 widgets and 35 component styles, 12-22 ms, at every change of view,
as each run starts; fewer than half of those widgets are named by a rule about a view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.css.model import CombinatorType, RuleSet, Selector, SelectorType
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode

# Properties that shape a widget's own box and place its children, and reach no further:
# a rule setting only these changes the widgets it selects and nothing under them.
# Anything else (a colour, a text style) is read by the widgets under it as they draw.
LAYOUT_ONLY = frozenset(
    {
        "display",
        "dock",
        "layout",
        "width",
        "height",
        "min_width",
        "min_height",
        "max_width",
        "max_height",
        "margin",
        "padding",
    }
)


def update_classes_restyling_selected(node: DOMNode, classes: Mapping[str, bool]) -> None:
    """Set or clear `classes` on `node` as `DOMNode.update_classes` does, restyling only
    `node` and the widgets under it that a rule naming one of the classes selects (with
    all under them where that rule sets more than their layout)."""
    if all(node.has_class(name) == on for name, on in classes.items()):
        return
    node.update_classes(classes, update=False)
    stylesheet = node.app.stylesheet
    stylesheet.update_nodes(selected_by_rules_on(stylesheet, node, set(classes)), animate=True)


def selected_by_rules_on(stylesheet: Stylesheet, root: DOMNode, classes: set[str]) -> list[DOMNode]:
    """`root`, and the nodes under it that a rule whose selector names one of `classes`
    selects as they are now, in Textual's order (each before those under it). `root` is
    matched with or without `classes`: a rule on it that stops matching must reach as far
    as one that starts to."""
    changed = frozenset(classes)
    by_id, others = _targets(stylesheet.rules, changed)
    chosen: list[DOMNode] = []
    reached: set[DOMNode] = set()  # nodes whose restyle reaches all under them
    for node in root.walk_children(with_self=True):
        either = changed if node is root else frozenset()
        matched = [reaching for compound, reaching in others if _matches(compound, node, either)]
        if node.id in by_id:
            matched.append(by_id[node.id])
        under_reaching = node.parent in reached
        if node is root or matched or under_reaching:
            chosen.append(node)
        if under_reaching or any(matched):
            reached.add(node)
    return chosen


Target = tuple[list[Selector], bool]  # a rule's last compound; whether it sets more than layout
Targets = tuple[dict[str, bool], list[Target]]  # those that are a bare #id, by id; the rest
_read: tuple[list[RuleSet], frozenset[str], Targets] | None = None  # the latest


def _targets(rules: list[RuleSet], classes: frozenset[str]) -> Targets:
    """The last compound of each selector naming one of `classes`, once each, and whether
    a rule with it sets more than layout. Read once per parse of the stylesheet, which
    makes a new list of rules; many rules share a compound (#side under each view)."""
    global _read
    if _read is not None and _read[0] is rules and _read[1] == classes:
        return _read[2]
    targets: dict[tuple, Target] = {}
    for rule in rules:
        named = [s.selectors for s in rule.selector_set if _names_a_class(s.selectors, classes)]
        if not named:
            continue
        reaching = not rule.styles.get_rules().keys() <= LAYOUT_ONLY
        for selectors in named:
            compound = _last_compound(selectors)
            key = tuple((s.type, s.name, frozenset(s.pseudo_classes)) for s in compound)
            reached_before = targets.get(key, (compound, False))[1]
            targets[key] = (compound, reaching or reached_before)
    by_id: dict[str, bool] = {}
    others: list[Target] = []
    for compound, reaching in targets.values():
        (first, *rest) = compound
        if not rest and first.type is SelectorType.ID and not first.pseudo_classes:
            by_id[first.name] = reaching
        else:
            others.append((compound, reaching))
    _read = (rules, classes, (by_id, others))
    return _read[2]


def _names_a_class(selectors: Iterable[Selector], classes: frozenset[str]) -> bool:
    return any(s.type is SelectorType.CLASS and s.name in classes for s in selectors)


def _last_compound(selectors: list[Selector]) -> list[Selector]:
    """The selectors that the selected node itself must match: `#work.-cluster-live` of
    `#main.-view-chart #work.-cluster-live`."""
    start = len(selectors) - 1
    while start > 0 and selectors[start].combinator is CombinatorType.SAME:
        start -= 1
    return selectors[start:]


def _matches(compound: list[Selector], node: DOMNode, either: frozenset[str]) -> bool:
    """Whether `node` matches every selector of `compound`, a class in `either` counting
    as matched whether the node has it or not."""
    return all(
        (selector.type is SelectorType.CLASS and selector.name in either) or selector.check(node)
        for selector in compound
    )

"""Reviewers' comments in a rubric file, carried over a rebuild (`rubrics build`).

A rebuild writes a new file from the study document, so the YAML comments that people wrote
into the old one would be lost. Each comment is tied to the place it belongs to, and written
again at that place in the new file:

- a comment on a line of its own belongs to what follows it (the next key or list item), as in
  `# -- Q2` above `- id: llm-training-q2`, or one above the first key: the file's header. One
  indented deeper than what follows closes the block above it (a note under a key point's
  fields, before the next key point);
- a comment after a value (`weight: 2  # core idea`) belongs to that key or item;
- one after everything else ends the file.

Places are named by key and by `id` (a rubric, key point, misconception or group), never by
position, so a comment follows its key point wherever the rebuild puts it. A comment whose
place the new file no longer has (a key point the rebuild drops) cannot be kept: `carry`
returns it so the caller can say so.

Comments are found with PyYAML's own scanner: whatever is not a token is a comment, so a `#`
inside a quoted string or a `|` block is never taken for one. The new text is checked by
parsing it again: the data must be exactly the rebuilt data and every kept comment present.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

import yaml

__all__ = ["Carried", "Comment", "carry", "find_comments"]

# libyaml's loader when present: its marks are the Python loader's (checked on the bundled file,
# Chinese text included), and it is 3-4x faster on large files.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Step = tuple[str, str]  # ("key", name), ("id", rubric or key point id) or ("item", index)
Path = tuple[Step, ...]


@dataclass(frozen=True)
class Comment:
    line: int  # 0-based
    column: int
    text: str  # from '#' to the end of its line
    own_line: bool  # alone on its line, rather than after a value

    def __str__(self) -> str:
        return f"line {self.line + 1} '{self.text}'"


@dataclass
class Carried:
    """The new text with the old file's comments in it, and those that had no place there."""

    text: str
    kept: list[Comment] = field(default_factory=list)
    lost: list[Comment] = field(default_factory=list)


@dataclass(frozen=True)
class _Place:
    """A mapping key or a sequence item of a YAML file."""

    path: Path
    line: int
    column: int  # the key's column, or the item's dash
    value: yaml.Node
    in_flow: bool  # inside a [..] or {..} collection


def find_comments(text: str) -> list[Comment]:
    """Every comment of a YAML text, in order. Raises yaml.YAMLError when it is not YAML."""
    lines = text.splitlines()
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    covered: list[tuple[int, int]] = []  # [start, end) of scalars, whose '#' are text
    for token in yaml.scan(text, Loader=_LOADER):
        if not isinstance(token, yaml.ScalarToken):
            continue
        start, end = token.start_mark.index, token.end_mark.index
        if token.style in ("|", ">"):
            # A block scalar's header line may end with a comment; its text starts below.
            start = starts[min(token.start_mark.line + 1, len(starts) - 1)]
        covered.append((start, end))
    covered.sort()
    begins = [c[0] for c in covered]
    found = []
    for number, line in enumerate(lines):
        column = line.find("#")
        while column != -1:
            at = starts[number] + column
            spot = bisect.bisect_right(begins, at) - 1
            inside = spot >= 0 and covered[spot][0] <= at < covered[spot][1]
            if not inside and (column == 0 or line[column - 1] in " \t"):
                own = not line[:column].strip()
                found.append(Comment(number, column, line[column:].rstrip(), own))
                break
            column = line.find("#", column + 1)
    return found


def _places(root: yaml.Node | None, lines: list[str]) -> list[_Place]:
    """Every key and item of a composed YAML document, in the order they appear."""
    out: list[_Place] = []

    def walk(node: yaml.Node, path: Path, in_flow: bool) -> None:
        if isinstance(node, yaml.MappingNode):
            flow = in_flow or bool(node.flow_style)
            for key, value in node.value:
                step = ("key", str(key.value)) if isinstance(key, yaml.ScalarNode) else None
                if step is None:
                    continue  # a complex key: no rubric file has one
                here = (*path, step)
                out.append(_Place(here, key.start_mark.line, key.start_mark.column, value, in_flow))
                walk(value, here, flow)
        elif isinstance(node, yaml.SequenceNode):
            flow = in_flow or bool(node.flow_style)
            seen: set[str] = set()
            for index, item in enumerate(node.value):
                ident = _item_id(item)
                step = ("id", ident) if ident is not None and ident not in seen else None
                if ident is not None:
                    seen.add(ident)
                here = (*path, step or ("item", str(index)))
                line = lines[item.start_mark.line] if item.start_mark.line < len(lines) else ""
                before = line[: item.start_mark.column].rstrip()
                column = len(before) - 1 if before.endswith("-") else item.start_mark.column
                out.append(_Place(here, item.start_mark.line, column, item, in_flow))
                walk(item, here, flow)

    if root is not None:
        walk(root, (), False)
    out.sort(key=lambda p: (p.line, p.column, len(p.path)))
    return out


def _item_id(item: yaml.Node) -> str | None:
    if isinstance(item, yaml.MappingNode):
        for key, value in item.value:
            if getattr(key, "value", None) == "id" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


Anchor = tuple[Literal["before", "end", "after-value"], Path]


class _Anchors:
    """Where each comment of one file belongs (see the module docstring)."""

    def __init__(self, places: list[_Place]) -> None:
        self._places = places
        self._lines = [p.line for p in places]
        ends: dict[int, _Place] = {}
        for p in places:
            if not p.in_flow:
                ends[_value_end_line(p)] = p  # the last value to end on each line
        self._ends = ends

    def __call__(self, comment: Comment) -> Anchor:
        places, lines = self._places, self._lines
        first = bisect.bisect_left(lines, comment.line)
        following = bisect.bisect_right(lines, comment.line)
        if not comment.own_line:
            on_line = places[first:following]
            block = [p for p in on_line if not p.in_flow] or on_line
            if block:
                return "after-value", block[-1].path
            if comment.line in self._ends:  # after the last line of a value that spans lines
                return "after-value", self._ends[comment.line].path
        if following == len(places):
            return "end", ()
        nxt = places[following]
        if comment.column <= nxt.column:
            return "before", nxt.path
        # Indented deeper than what follows: it closes the block whose keys sit at its column.
        for p in reversed(places[:following]):
            if p.in_flow or p.column > comment.column:
                continue
            if p.column == comment.column:
                return "end", p.path[:-1]
            break
        return "before", nxt.path


def _value_end_line(place: _Place) -> int:
    """The line an end-of-line comment on this key or item goes on."""
    value = place.value
    if isinstance(value, yaml.ScalarNode):
        if value.style in ("|", ">"):
            return value.start_mark.line  # after the block's header: `text: |-  # ...`
        return value.end_mark.line
    if getattr(value, "flow_style", False):
        return value.end_mark.line
    return place.line


def carry(old_text: str, new_text: str) -> Carried:
    """`new_text` with the comments of `old_text` at their places; those whose place is gone
    are in `lost`. Raises yaml.YAMLError when `old_text` is not YAML."""
    comments = find_comments(old_text)
    if not comments:
        return Carried(new_text)
    old_lines = old_text.splitlines()
    old_places = _places(yaml.compose(old_text, Loader=_LOADER), old_lines)
    new_lines = new_text.splitlines()
    new_places = _places(yaml.compose(new_text, Loader=_LOADER), new_lines)
    by_path = {p.path: i for i, p in enumerate(new_places)}
    anchor = _Anchors(old_places)
    above: dict[int, list[str]] = {}  # line of the new text → comment lines to put above it
    after: dict[int, list[str]] = {}  # line → comments to append to it
    carried = Carried(new_text)
    for comment in comments:
        kind, path = anchor(comment)
        if kind == "end" and not path:
            above.setdefault(len(new_lines), []).append(comment.text)
        elif path not in by_path:
            carried.lost.append(comment)
            continue
        elif kind == "before":
            place = new_places[by_path[path]]
            above.setdefault(place.line, []).append(" " * place.column + comment.text)
        elif kind == "after-value":
            after.setdefault(_value_end_line(new_places[by_path[path]]), []).append(comment.text)
        else:  # the end of the block at `path`: before whatever follows its last member
            index = by_path[path]
            last = index
            while last + 1 < len(new_places) and new_places[last + 1].path[: len(path)] == path:
                last += 1
            members = [p for p in new_places[index + 1 : last + 1] if len(p.path) == len(path) + 1]
            column = members[0].column if members else new_places[index].column + 2
            at = new_places[last + 1].line if last + 1 < len(new_places) else len(new_lines)
            above.setdefault(at, []).append(" " * column + comment.text)
        carried.kept.append(comment)
    out: list[str] = []
    for number, line in enumerate([*new_lines, None]):
        out += above.get(number, [])
        if line is not None:
            out.append("  ".join([line.rstrip(), *after.get(number, [])]))
    text = "\n".join(out) + "\n"
    if _intact(text, new_text, carried.kept):
        carried.text = text
    else:  # never expected; the data must not change for a comment's sake
        carried.lost, carried.kept = comments, []
    return carried


def _intact(text: str, new_text: str, kept: list[Comment]) -> bool:
    """The commented text holds exactly the data of `new_text`, and every kept comment."""
    try:
        same = yaml.load(text, Loader=_LOADER) == yaml.load(new_text, Loader=_LOADER)
        present = [c.text for c in find_comments(text)]
    except yaml.YAMLError:
        return False
    joined = "\n".join(present)
    return same and all(c.text in joined for c in kept)

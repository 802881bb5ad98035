"""The rubric schema (pydantic v2): key points, misconceptions, rubrics and the rubric file.

A rubric file holds one source document's questions:

    document: llm-training          # slug; rubric ids are "<document>-q<number>"
    title: ...
    source: seeds/000_7ace44ecab84a0b1.txt
    build_hash: <sha256>            # content hash written by `rubrics build`; see compile.py
    rubrics: [ {id, number, title, question, reference_answer, key_points, ...}, ... ]

Reading and writing the files is in `io`, lookup by number, id or title in `lookup`, rubrics
made on the fly from a reference answer in `adhoc`.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evaluator.text import Language


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KeyPoint(_Model):
    """One thing a good answer says; credit for it is weighted by `weight`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: str = ""
    text: str = Field(min_length=1)
    # Bounded so that sums of weights stay finite (1e308 + 1e308 is inf, and inf/inf a NaN score).
    weight: float = Field(default=1.0, gt=0, le=1000)
    note: str | None = None  # e.g. the seed's original (wrong) wording that this corrects


class Misconception(_Model):
    """A wrong claim that costs credit when an answer makes it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    text: str = Field(min_length=1)
    penalty: float = Field(default=10.0, ge=0, le=100)  # points off the 0-100 score
    correction: str | None = None


class KeyPointGroup(_Model):
    """Key points of which any `pick` earn the group: the items of "列举三种…" or "name three …".

    The group is worth its `pick` heaviest members' weights, and an answer earns its `pick`
    best members (by weight × credit); the others are not needed. With equal weights, any three
    of the items earn the group in full; a lighter member (an item the question accepts but
    rates lower, say pruning as a way to speed up training) earns less than a full one."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: str = ""
    key_points: list[str] = Field(min_length=2)
    pick: int = Field(ge=1)


class Source(_Model):
    file: str
    lines: tuple[int, int]


class Rubric(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    number: int | None = None
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    reference_answer: str = Field(min_length=1)
    key_points: list[KeyPoint] = Field(min_length=1)
    groups: list[KeyPointGroup] | None = None
    misconceptions: list[Misconception] = Field(default_factory=list)
    explanation: str = ""
    source: Source | None = None
    language: Language = "zh"
    duplicate_of: str | None = None
    notes: list[str] = Field(default_factory=list)  # reviewers' corrections, original wording
    # Key points cut from a free-text reference answer (adhoc_rubric), not written as a rubric:
    # its sentences often repeat each other, so key points do not compete for an answer's
    # sentences (Calibration.exclusivity). Never written to a rubric file.
    from_reference: bool = Field(default=False, exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        ids = [k.id for k in self.key_points] + [m.id for m in self.misconceptions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate key point / misconception ids: {', '.join(dupes)}")
        known = {k.id for k in self.key_points}
        grouped: list[str] = []
        for group in self.groups or []:
            unknown = [i for i in group.key_points if i not in known]
            if unknown:
                raise ValueError(f"group {group.id} names no such key point: {', '.join(unknown)}")
            if group.pick > len(group.key_points):
                raise ValueError(
                    f"group {group.id} picks {group.pick} of only {len(group.key_points)} key points"
                )
            grouped += group.key_points
        twice = sorted({i for i in grouped if grouped.count(i) > 1})
        if twice:
            raise ValueError(f"key points in more than one group: {', '.join(twice)}")
        return self

    def not_needed(self, credits: dict[str, float]) -> set[str]:
        """Key points of a group beyond its `pick` best members by weight × credit (ties: the
        heavier, then rubric order)."""
        weight = {k.id: k.weight for k in self.key_points}
        out: set[str] = set()
        for group in self.groups or []:
            ranked = sorted(
                group.key_points, key=lambda i: (-weight[i] * credits.get(i, 0.0), -weight[i])
            )
            out.update(ranked[group.pick :])
        return out

    def full_weight(self) -> float:
        """What a complete answer earns: every ungrouped key point's weight plus each group's
        `pick` heaviest members'."""
        weight = {k.id: k.weight for k in self.key_points}
        grouped = {i for g in self.groups or [] for i in g.key_points}
        total = sum(w for i, w in weight.items() if i not in grouped)
        for group in self.groups or []:
            total += sum(sorted((weight[i] for i in group.key_points), reverse=True)[: group.pick])
        return total

    def weighted_share(self, credits: dict[str, float]) -> float:
        """The weighted share (0-1) of the rubric an answer states, given each key point's
        credit: Σ weight × credit over the counted key points, over `full_weight()`."""
        surplus = self.not_needed(credits)
        earned = sum(
            k.weight * credits.get(k.id, 0.0) for k in self.key_points if k.id not in surplus
        )
        total = self.full_weight()
        return earned / total if total > 0 else 0.0

    def content_hash(self) -> str:
        """Stable hash of everything that affects grading (used in cache keys)."""
        data = self.model_dump(mode="json")
        if self.from_reference:
            data["from_reference"] = True
        payload = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


class RubricDocument(_Model):
    """One rubric file: the questions compiled from one source document."""

    document: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str = ""
    source: str | None = None
    build_hash: str | None = None
    rubrics: list[Rubric] = Field(min_length=1)

    @field_validator("rubrics")
    @classmethod
    def _unique_rubric_ids(cls, rubrics: list[Rubric]) -> list[Rubric]:
        ids = [r.id for r in rubrics]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rubric ids: {', '.join(dupes)}")
        return rubrics

    def rubrics_hash(self) -> str:
        """Hash of the rubric content; differs from build_hash once people edit the file."""
        payload = json.dumps(
            [r.model_dump(mode="json") for r in self.rubrics], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()

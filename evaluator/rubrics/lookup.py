"""A set of rubrics and finding one in it by id, question number (`7`, `Q7`, `第7题`; see
`numbering`) or words of its title."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from evaluator.errors import QuestionNotFound, RubricError
from evaluator.rubrics.model import Rubric, RubricDocument
from evaluator.rubrics.numbering import question_number
from evaluator.text import content_words, fold, has_cjk

# Characters a title query may carry that the title lacks without changing what it asks.
_FILLER = set("的是什么如何怎么怎样请和与及其了吗呢一个为")
# Words that name no question, beyond the stop words: what empty spreadsheet cells and
# placeholders say. "None" used to find Q29, "the" Q24.
_EMPTY_WORDS = frozenset({"none", "null", "nil", "nan", "na", "undefined", "todo", "tbd"})


def meaningful_words(query: str) -> list[str]:
    """The words of a Latin-script query that can name a question (no stop words, no
    placeholders such as "None")."""
    return [w for w in content_words(query) if w not in _EMPTY_WORDS]


def _word_match(words: list[str], rubric: Rubric) -> float:
    """Share of the query's words found among the title's and question's words (a misspelling
    at 0.8 similarity still counts: "distilation")."""
    pool = set(content_words(f"{rubric.title} {rubric.question}"))
    found = sum(1 for w in words if w in pool or difflib.get_close_matches(w, pool, 1, 0.8))
    return found / len(words)


def _title_match(folded_query: str, rubric: Rubric) -> tuple[float, bool]:
    """(similarity, safe to accept without asking).

    Similarity is the larger of difflib's ratio and the share of the query found in the title,
    so a short query inside a long title ranks high. In Chinese one character can flip the
    meaning (欠拟合 vs 过拟合), so a match is only safe when every query character missing from
    the title is filler.
    """
    title = fold(rubric.title)
    matcher = difflib.SequenceMatcher(None, folded_query, title, autojunk=False)
    blocks = matcher.get_matching_blocks()
    matched = sum(b.size for b in blocks)
    score = max(matcher.ratio(), matched / max(len(folded_query), 1))
    if not has_cjk(folded_query):
        return score, True
    covered = {i for b in blocks for i in range(b.a, b.a + b.size)}
    missing = {ch for i, ch in enumerate(folded_query) if i not in covered}
    return score, missing <= _FILLER


class RubricSet:
    """All rubrics available to a command, with lookup by id, number or title words."""

    def __init__(self, documents: Iterable[RubricDocument], origin: str = "") -> None:
        self.documents = list(documents)
        self.origin = origin
        self._by_id: dict[str, Rubric] = {}
        for doc in self.documents:
            for r in doc.rubrics:
                if r.id in self._by_id:
                    raise RubricError(f"{origin}: rubric id '{r.id}' appears in two files")
                self._by_id[r.id] = r

    def __iter__(self) -> Iterator[Rubric]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, rubric_id: str) -> Rubric | None:
        return self._by_id.get(rubric_id)

    def find(self, query: str | int) -> Rubric:
        """A number ("5", "Q5", "第5题"), an id, or words of the title; raises with close
        matches."""
        q = str(query).strip()
        if q in self._by_id:
            return self._by_id[q]
        numbered = question_number(q)
        if numbered is not None and not numbered[1]:
            hits = [r for r in self if r.number == numbered[0]]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                ids = ", ".join(r.id for r in hits)
                raise QuestionNotFound(f"question {q} is ambiguous across documents: {ids}")
        folded = fold(q)
        if folded and not has_cjk(q):
            words = meaningful_words(q)
            if not words:
                raise QuestionNotFound(
                    f"'{q}' names no question: give a number (5, Q5, 第5题), an id, or words "
                    "of a title — run `evaluator list` to see them"
                )
            return self._find_by_words(q, words)
        contained: list[Rubric] = []
        if folded:
            contained = [r for r in self if folded in fold(r.title) or folded in fold(r.question)]
            # Twins marked duplicate_of answer to the original question.
            originals = [r for r in contained if r.duplicate_of not in {c.id for c in contained}]
            if len(originals) == 1:
                return originals[0]
            scored = sorted(((_title_match(folded, r), r) for r in self), key=lambda p: -p[0][0])
            best = scored[0][0] if scored else (0.0, False)
            runner_up = scored[1][0][0] if len(scored) > 1 else 0.0
            if not contained and best[1] and best[0] >= 0.6 and best[0] - runner_up >= 0.1:
                return scored[0][1]
            candidates = contained or [r for (score, _), r in scored[:3] if score > 0.2]
        else:
            candidates = []
        hint = "; ".join(f"{r.number or r.id}. {r.title}" for r in candidates[:5])
        what = "matches several questions" if len(contained) > 1 else "matches no question"
        more = f" — did you mean: {hint}" if hint else " — run `evaluator list` to see them"
        raise QuestionNotFound(f"'{q}' {what}{more}")

    def _find_by_words(self, query: str, words: list[str]) -> Rubric:
        """A Latin-script query: every meaningful word must be a word of the title or question
        (letters inside other words do not count: "the" is not in "other")."""
        scored = sorted(((_word_match(words, r), r) for r in self), key=lambda p: -p[0])
        full = [r for score, r in scored if score == 1.0]
        originals = [r for r in full if r.duplicate_of not in {f.id for f in full}]
        if len(originals) == 1:
            return originals[0]
        candidates = full or [r for score, r in scored[:3] if score >= 0.5]
        hint = "; ".join(f"{r.number or r.id}. {r.title}" for r in candidates[:5])
        what = "matches several questions" if len(originals) > 1 else "matches no question"
        more = f" — did you mean: {hint}" if hint else " — run `evaluator list` to see them"
        raise QuestionNotFound(f"'{query}' {what}{more}")

"""`Grader`: scores answers against rubrics by key-point coverage, plus the LLM judge when present.

    grader = Grader.from_settings(load_settings())
    grade = grader.grade(rubric, answer)
    grades = grader.grade_many([(rubric, answer), ...], jobs=8)   # batched

Grading is one forward pass of small steps, each its own module:

1. prepare (prepare.py): each answer cut into units, candidates and clauses;
2. encode (encode.py): every distinct text of the batch through the encoder once;
3. evidence (evidence.py): per answer, what the embeddings see, computed once and carried on;
4. judge (judging.py): with a judge, every answer judged concurrently (sent before step 2, so
   the network wait overlaps the encoding), then the optional consistency pass;
5. combine (combine.py): the judge's verdicts with the embeddings' credit;
6. score (score.py): the weighted share of credit, scaled, less penalties, capped;
7. assemble (assemble.py): the Grade, with its flags, evidence and feedback.

Steps 5-7 run together per answer in `assemble`. An answer that addresses the grader is graded
a second time without that text, and the lower grade stands.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from evaluator.errors import JudgeError
from evaluator.judge import notices
from evaluator.judge.breaker import JudgeOff
from evaluator.result import Grade, KeyPointResult
from evaluator.rubrics.model import Rubric
from evaluator.scoring import judging
from evaluator.scoring.assemble import assemble
from evaluator.scoring.calibration import Calibration, calibration_for
from evaluator.scoring.combine import supported
from evaluator.scoring.embedding.backends import Embedder, get_embedder
from evaluator.scoring.embedding.vectors import CachedEmbedder
from evaluator.scoring.encode import AnswerVectors, Encoder
from evaluator.scoring.evidence import Evidence, find_evidence, key_point_results
from evaluator.scoring.prepare import Prepared, prepare, without_injection
from evaluator.settings import Settings

if TYPE_CHECKING:
    from evaluator.judge.client import Judge


class Grader:
    def __init__(
        self,
        embedder: Embedder | str | None = None,
        *,
        judge: Judge | None = None,
        settings: Settings | None = None,
        calibration: Calibration | None = None,
        compare_with: Iterable[Rubric] = (),
    ) -> None:
        """`compare_with`: the other questions of the rubric set, so an answer that answers one
        of them instead of its own is told apart (flag answers_other_question)."""
        self.settings = settings or Settings()
        self.compare_with = list(compare_with)
        if embedder is None or isinstance(embedder, str):
            cache_dir = self.settings.cache_dir if self.settings.use_cache else None
            embedder = get_embedder(embedder or self.settings.embedder, cache_dir)
        self.embedder = embedder
        self.calibration = calibration or calibration_for(embedder.name)
        self.judge = judge
        # Every vector is kept on disk with the cache on: a re-run encodes only what changed.
        cached = self.settings.use_cache and not embedder.name.startswith("hashing")
        self.encoder = Encoder(
            CachedEmbedder(embedder, self.settings.cache_dir / "embeddings.sqlite3")
            if cached
            else embedder
        )
        self._topics: list[tuple[Rubric, np.ndarray]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, compare_with: Iterable[Rubric] = ()) -> Grader:
        """The embedder and (when enabled) the judge that `settings` describe."""
        judge = None
        if settings.judge_enabled:
            from evaluator.judge.client import make_judge

            judge = make_judge(settings)
        return cls(settings.embedder, judge=judge, settings=settings, compare_with=compare_with)

    def grade(self, rubric: Rubric, answer: str) -> Grade:
        return self.grade_many([(rubric, answer)])[0]

    def grade_many(self, items: Sequence[tuple[Rubric, str]], jobs: int = 1) -> list[Grade]:
        """Grades in input order."""
        started = time.perf_counter()
        # 1. Prepare. An answer that addresses the grader is graded again without those units,
        # by the embeddings and the judge alike: injected text never raises a score.
        prepared = [prepare(rubric, answer) for rubric, answer in items]
        clean = {i: without_injection(p) for i, p in enumerate(prepared) if p.injected}
        answers = prepared + list(clean.values())
        # 4. Judge, sent first so that its network wait overlaps steps 2 and 3.
        with judging.JudgeRun(self.judge, answers, jobs, self.settings) as run:
            vectors = self.encoder.answers(answers)  # 2. Encode.
            embed_ms = (time.perf_counter() - started) * 1000 / max(len(items), 1)
            seen = [self.evidence(p, v) for p, v in zip(answers, vectors, strict=True)]  # 3.
            outcomes = run.outcomes()
        # A quote that is a sentence of the answer already has its vector.
        known = {
            text: row
            for p, v in zip(answers, vectors, strict=True)
            if v is not None
            for text, row in zip(p.candidates, v.candidates, strict=True)
        }
        quotes = self._quotes(outcomes, known)
        if self.judge is not None and self.settings.judge_recheck:
            results = [
                key_point_results(p, e, self.calibration)
                for p, e in zip(answers, seen, strict=True)
            ]
            asked = judging.recheck(
                self.judge,
                answers,
                results,
                outcomes,
                lambda i, r, quote: self._supported(answers[i], r, quote, quotes),
                jobs,
                self.settings,
            )
            if asked:  # only the second pass's new quotes are encoded
                quotes = self._quotes(outcomes, {**known, **quotes})
        # 5-7. Combine, score, assemble.
        grades = [
            self._assemble(p, e, o, quotes, embed_ms)
            for p, e, o in zip(answers, seen, outcomes, strict=True)
        ]
        for outcome in outcomes[: len(prepared)]:
            # A judge switched off says so once (judge.breaker), not once per answer.
            if isinstance(outcome, JudgeError) and not isinstance(outcome, JudgeOff):
                notices.tell(f"{outcome}: graded by embeddings alone")
        for n, i in enumerate(clean):
            # With no units left, it is graded as the empty answer it amounts to; a tie keeps
            # the full answer's grade.
            grades[i] = min(grades[i], grades[len(prepared) + n], key=lambda g: g.score)
        return grades[: len(prepared)]

    def evidence(self, p: Prepared, vectors: AnswerVectors | None) -> Evidence:
        """Step 3 for one answer: what the embeddings see in it (evidence.find_evidence)."""
        rv = self.encoder.rubric(p.rubric)
        return find_evidence(p, vectors, rv, self.calibration, self.topics())

    def topics(self) -> list[tuple[Rubric, np.ndarray]]:
        """`compare_with` with its topic vectors, encoded the first time they are needed."""
        if self._topics is None:
            self._topics = self.encoder.topics(self.compare_with)
        return self._topics

    def _quotes(
        self, outcomes: Sequence[judging.Outcome], known: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Vectors of the judges' quotes, for checking what they support; `known` texts are
        not encoded again."""
        if self.calibration.judge_quote is None:
            return {}
        quoted = judging.quoted(outcomes)
        found = {q: known[q] for q in quoted if q in known}
        return {**found, **self.encoder.texts(quoted - set(found))}

    def _supported(
        self, p: Prepared, r: KeyPointResult, quote: str | None, quotes: dict[str, np.ndarray]
    ) -> bool:
        rv = self.encoder.rubric(p.rubric)
        return supported(p.rubric, rv, r, quote, quotes, self.calibration)

    def _assemble(
        self,
        p: Prepared,
        ev: Evidence,
        outcome: judging.Outcome,
        quotes: dict[str, np.ndarray],
        embed_ms: float,
    ) -> Grade:
        return assemble(
            p,
            ev,
            outcome,
            rv=self.encoder.rubric(p.rubric),
            cal=self.calibration,
            judge_weight=self.settings.judge_weight,
            quotes=quotes,
            embedder=self.embedder.name,
            has_judge=self.judge is not None,
            embed_ms=embed_ms,
        )

"""`Grader`: scores answers against rubrics by key-point coverage, plus the LLM judge when present.

    grader = Grader.from_settings(load_settings())
    grade = grader.grade(rubric, answer)
    grades = grader.grade_many([(rubric, answer), ...], jobs=8)   # batched embedding

All embedding work for a batch happens in one `encode` call (the model's own fast path); rubric
vectors are computed once per rubric and cached on disk. Judge calls, when configured, run
concurrently in up to `jobs` threads, one rubric's calls from one thread (judge.order), and with
`judge_recheck` the points the judge credits beyond the embeddings are asked again
(judge.recheck).

Beyond key-point coverage: an answer clearly closer to another question of `compare_with` is
flagged and capped; a terse answer to a list question earns the items it names; a "pick k"
group counts only its k best members; text that addresses the grader never raises a score (the
answer is also graded, and judged, without it); and a judge's covered/partial verdict stands
only when the answer's words support it (`_supported`). The weighted share of credit becomes
the score through the calibration's scale; with a judge, only the embeddings' share is scaled
and the judge's is mixed in as it is (`_score`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from evaluator.errors import JudgeError
from evaluator.injection import injection_spans
from evaluator.judge import notices
from evaluator.judge.breaker import JudgeOff
from evaluator.judge.grounding import quotes_claim
from evaluator.judge.order import prefix_runs
from evaluator.judge.recheck import keep_lower
from evaluator.result import (
    Flag,
    Grade,
    KeyPointResult,
    MisconceptionHit,
    OtherQuestion,
    Status,
    Verdict,
    band_for,
)
from evaluator.rubrics.model import Rubric
from evaluator.scoring import coverage, feedback
from evaluator.scoring.calibration import Calibration, calibration_for
from evaluator.scoring.embedding.backends import Embedder, get_embedder
from evaluator.scoring.embedding.vectors import CachedEmbedder
from evaluator.settings import Settings
from evaluator.text import (
    clauses,
    content_tokens,
    denies,
    detect_language,
    embedding_text,
    examples,
    is_blank,
    is_list_question,
    is_term_list,
    normalise,
    one_line,
    reverses,
    split_units,
    visible_length,
    windows,
)

if TYPE_CHECKING:
    from evaluator.judge.client import Judge, JudgeOutcome

log = logging.getLogger(__name__)

# The reason a judge's covered/partial verdict is replaced by missing (see Grader._supported).
UNSUPPORTED = "no words of the answer state this key point; the judge's verdict was not kept"
WRONG_QUOTE = "the quoted words assert a listed misconception; the judge's verdict was not kept"
# Said of a point the judge found missing where the embeddings gave some credit (_combine).
OVERRULED = "the judge found this point missing; the embeddings' credit for it was not kept"
MAX_UNITS = 256  # longer answers are graded on their first MAX_UNITS units (flagged "truncated")
# An answer this short (visible length: a CJK character counts 2) that names items is a list.
TERSE_CHARS = 60
TOPIC_CHARS = 4000  # the whole-answer embedding for the off-topic gate reads this much
MAX_RUBRICS = 4096  # rubric vectors kept in memory (oldest dropped first)
# The consistency pass asks again about a key point whose judge credit exceeds its embedding
# credit by this much: covered where the embeddings see less than half of it, partial where they
# see nothing.
RECHECK_GAP = 0.5
VERDICT_CREDIT = {
    Verdict.COVERED: 1.0,
    Verdict.PARTIAL: 0.5,
    Verdict.MISSING: 0.0,
    Verdict.CONTRADICTED: 0.0,
}


@dataclass(frozen=True)
class _RubricVectors:
    key_points: np.ndarray
    misconceptions: np.ndarray
    topic: np.ndarray  # question and reference answer, one row each
    # A key point's listed alternatives ("如图像旋转、缩放、随机裁剪" → "图像旋转", …) matched on
    # their own, and the key point each belongs to: an answer that gives one states the point.
    # Items alone, not "label：item": a label often restates the question.
    examples: np.ndarray
    example_of: list[int]


@dataclass
class _Prepared:
    """One answer after segmentation, waiting for its vectors."""

    rubric: Rubric
    answer: str
    units: list[str]
    candidates: list[str]  # units, then windows of adjacent units
    truncated: bool
    clauses: list[str]  # finer pieces, only for matching misconceptions
    offset: int = 0  # where this answer's rows start in the batch matrix
    injected: bool = False  # the answer addresses the grader (flagged possible_injection)


@dataclass
class _Evidence:
    """What the embeddings found in one answer, before any judge."""

    similarity: np.ndarray  # per key point, the cosine of its best candidate
    strength: np.ndarray  # per key point, that candidate's evidence (before the length term)
    lexical: coverage.LexicalFeatures | None  # None for an empty answer
    evidence: list[str | None]  # the matching unit per key point
    misconceptions: list[MisconceptionHit]
    topicality: float
    flags: list[Flag]
    answers_other: OtherQuestion | None = None
    named: list[int | None] = field(default_factory=list)  # unit naming each key point
    # Per key point: its best sentence turns it around (coverage.KeyPointEvidence.turned).
    turned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _unexpected(exc: Exception, settings: Settings) -> JudgeError:
    """An exception the judge should not have raised, as the one-line JudgeError it stands for
    (never with the API key); the traceback goes to the debug log only."""
    from evaluator.judge.client import redacted

    log.debug("the judge failed unexpectedly", exc_info=exc)
    what = redacted(one_line(f"{type(exc).__name__}: {exc}", 200), settings)
    return JudgeError(f"the judge failed unexpectedly ({what})")


def asserts(texts: Sequence[str], hits: Sequence[MisconceptionHit]) -> list[bool]:
    """Per text (a sentence or a window of them), whether it holds a sentence or clause found
    asserting a misconception: such text is evidence of no key point."""
    return [any(h.evidence and h.evidence in t for h in hits) for t in texts]


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
        self._rubric_embedder: Embedder = (
            CachedEmbedder(embedder, self.settings.cache_dir / "embeddings.sqlite3")
            if self.settings.use_cache and not embedder.name.startswith("hashing")
            else embedder
        )
        self._vectors: dict[str, _RubricVectors] = {}
        self._other_topics: list[tuple[Rubric, np.ndarray]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, compare_with: Iterable[Rubric] = ()) -> Grader:
        """The embedder and (when enabled) the judge that `settings` describe."""
        judge = None
        if settings.judge_enabled:
            from evaluator.judge.client import make_judge

            judge = make_judge(settings)
        return cls(settings.embedder, judge=judge, settings=settings, compare_with=compare_with)

    # ------------------------------------------------------------------ public

    def grade(self, rubric: Rubric, answer: str) -> Grade:
        return self.grade_many([(rubric, answer)])[0]

    def grade_many(
        self,
        items: Sequence[tuple[Rubric, str]],
        jobs: int = 1,
    ) -> list[Grade]:
        """Grades in input order."""
        started = time.perf_counter()
        prepared = [self._prepare(rubric, answer) for rubric, answer in items]
        # An answer that addresses the grader is graded again without those units, by the
        # embeddings and the judge alike, and the lower grade stands: injected text never
        # raises a score, whatever the embeddings or the judge make of it.
        clean = {i: self._without_injection(p) for i, p in enumerate(prepared) if p.injected}
        both = prepared + list(clean.values())
        outcomes: list[JudgeOutcome | JudgeError | None] = [None] * len(both)
        todo = [i for i, p in enumerate(both) if p.units] if self.judge is not None else []
        # One rubric's requests back to back, by one worker: they share the prompt's static
        # prefix, which the server then reads once (judge.order).
        runs = [
            [todo[n] for n in run] for run in prefix_runs([both[i].rubric.id for i in todo], jobs)
        ]
        # Judge requests go out first, so their network wait overlaps the embedding work.
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(runs) or 1))) as pool:
            futures = [pool.submit(self._judge_run, [both[i] for i in run]) for run in runs]
            vectors = self._encode_answers(both)
            embed_ms = (time.perf_counter() - started) * 1000 / max(len(items), 1)
            for run, future in zip(runs, futures, strict=True):
                for i, outcome in zip(run, future.result(), strict=True):
                    outcomes[i] = outcome
        quotes = self._encode_quotes(outcomes)
        recheck = self.judge is not None and self.settings.judge_recheck
        if recheck and self._recheck(both, vectors, outcomes, quotes, jobs):
            quotes = self._encode_quotes(outcomes)
        clean_outcome = {i: outcomes[len(prepared) + n] for n, i in enumerate(clean)}
        grades = []
        for i, p in enumerate(prepared):
            # A judge switched off says so once (judge.breaker), not once per answer.
            if isinstance(outcomes[i], JudgeError) and not isinstance(outcomes[i], JudgeOff):
                notices.tell(f"{outcomes[i]}: graded by embeddings alone")
            grade = self._grade_one(p, vectors, outcomes[i], embed_ms, quotes)
            if i in clean:
                # With no units left, it is graded as the empty answer it amounts to.
                alone = self._grade_one(clean[i], vectors, clean_outcome[i], embed_ms, quotes)
                grade = min(grade, alone, key=lambda g: g.score)  # a tie keeps the full answer
            grades.append(grade)
        return grades

    def _rubric_vectors(self, rubric: Rubric) -> _RubricVectors:
        self._encode_rubrics([rubric])
        return self._vectors[rubric.content_hash()]

    def _encode_rubrics(self, rubrics: Iterable[Rubric]) -> None:
        """Vectors for every rubric not seen yet, in one encode call (not one per rubric)."""
        todo = {r.content_hash(): r for r in rubrics}
        todo = {key: r for key, r in todo.items() if key not in self._vectors}
        if not todo:
            return
        texts: list[str] = []
        owners: dict[str, list[int]] = {}
        for key, r in todo.items():
            texts += [k.text for k in r.key_points] + [m.text for m in r.misconceptions]
            texts += [r.question, r.reference_answer[:TOPIC_CHARS]]
            owners[key] = []
            for i, point in enumerate(r.key_points):
                for item in examples(point.text):
                    texts.append(item)
                    owners[key].append(i)
        matrix = self._rubric_embedder.encode([embedding_text(t) for t in texts])
        # Bounded: a CSV of 100k inline references must not keep 100k rubrics' vectors.
        for stale in list(self._vectors)[: max(0, len(self._vectors) + len(todo) - MAX_RUBRICS)]:
            del self._vectors[stale]
        start = 0
        for key, r in todo.items():
            k, m, x = len(r.key_points), len(r.misconceptions), len(owners[key])
            rows = matrix[start : start + k + m + 2 + x]
            self._vectors[key] = _RubricVectors(
                rows[:k], rows[k : k + m], rows[k + m : k + m + 2], rows[k + m + 2 :], owners[key]
            )
            start += k + m + 2 + x

    # ------------------------------------------------------------------ steps

    def _prepare(self, rubric: Rubric, answer: str) -> _Prepared:
        answer = normalise(answer or "")
        units = [] if is_blank(answer) else split_units(answer)
        truncated = len(units) > MAX_UNITS
        units = units[:MAX_UNITS]
        finer = clauses(units) if rubric.misconceptions else []
        injected = bool(injection_spans(answer))
        return _Prepared(
            rubric, answer, units, units + windows(units), truncated, finer, injected=injected
        )

    def _without_injection(self, p: _Prepared) -> _Prepared:
        """`p` without the units that address the grader (still flagged as injected)."""
        clean = self._prepare(p.rubric, "\n".join(u for u in p.units if not injection_spans(u)))
        clean.truncated, clean.injected = p.truncated, True
        return clean

    def _encode_answers(self, prepared: list[_Prepared]) -> np.ndarray:
        """One encode call: every candidate of every answer, each whole answer, and its clauses."""
        texts: list[str] = []
        for p in prepared:
            if p.units:
                p.offset = len(texts)
                texts.extend(p.candidates)
                texts.append(p.answer[:TOPIC_CHARS])
                texts.extend(p.clauses)
        self._encode_rubrics(p.rubric for p in prepared)
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        texts = [embedding_text(t) for t in texts]
        # A one-sentence answer is its own only unit; repeated answers repeat every text.
        unique = list(dict.fromkeys(texts))
        if len(unique) == len(texts):
            return self.embedder.encode(texts)
        where = {text: i for i, text in enumerate(unique)}
        return self.embedder.encode(unique)[[where[t] for t in texts]]

    def _encode_quotes(
        self, outcomes: Sequence[JudgeOutcome | JudgeError | None]
    ) -> dict[str, np.ndarray]:
        """Vectors of the judges' quotes, in one encode call, for checking what they support."""
        if self.calibration.judge_quote is None:
            return {}
        texts = {
            j.evidence
            for o in outcomes
            if o is not None and not isinstance(o, JudgeError)
            for j in o.judgements.values()
            if j.evidence and j.verdict in (Verdict.COVERED, Verdict.PARTIAL)
        }
        ordered = sorted(texts)
        if not ordered:
            return {}
        vectors = self.embedder.encode([embedding_text(t) for t in ordered])
        return dict(zip(ordered, vectors, strict=True))

    def _recheck(
        self,
        prepared: list[_Prepared],
        vectors: np.ndarray,
        outcomes: list[JudgeOutcome | JudgeError | None],
        quotes: dict[str, np.ndarray],
        jobs: int,
    ) -> bool:
        """The consistency pass (settings.judge_recheck), in place: each answer's key points
        that the judge credits, with a quote that passes `_supported`, while the embeddings give
        at least RECHECK_GAP less, are judged again, and the lower verdict stands. A recheck
        that fails leaves the first verdicts. True when any answer was asked again."""
        assert self.judge is not None
        judge = self.judge
        todo: dict[int, list[str]] = {}
        for i, outcome in enumerate(outcomes):
            if outcome is None or isinstance(outcome, JudgeError):
                continue
            p = prepared[i]
            ids = [
                r.id
                for r in self._embedding_results(p, self._embedding_evidence(p, vectors))
                if (j := outcome.judgements.get(r.id)) is not None
                and VERDICT_CREDIT[j.verdict] - (r.embedding_credit or 0.0) >= RECHECK_GAP
                and self._supported(p.rubric, r, j.evidence, quotes)
            ]
            if ids:
                todo[i] = ids
        if not todo:
            return False
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
            futures = {
                i: pool.submit(judge.recheck, prepared[i].rubric, prepared[i].answer, ids)
                for i, ids in todo.items()
            }
            for i, future in futures.items():
                try:
                    second = future.result()
                except Exception as exc:  # a second opinion that never came changes nothing
                    if not isinstance(exc, JudgeError):
                        _unexpected(exc, self.settings)
                    continue
                first = outcomes[i]
                assert first is not None and not isinstance(first, JudgeError)
                outcomes[i] = keep_lower(first, second)
        return True

    def _judge_run(self, run: list[_Prepared]) -> list[JudgeOutcome | JudgeError]:
        return [self._judge_one(p) for p in run]

    def _judge_one(self, p: _Prepared) -> JudgeOutcome | JudgeError:
        assert self.judge is not None
        try:
            return self.judge.assess(p.rubric, p.answer)
        except JudgeError as exc:
            if self.settings.require_judge:
                raise
            return exc
        except Exception as exc:  # a bug in the judge must not sink the grade: it is unscored
            error = _unexpected(exc, self.settings)
            if self.settings.require_judge:
                raise error from None
            return error

    def _grade_one(
        self,
        p: _Prepared,
        vectors: np.ndarray,
        outcome: JudgeOutcome | JudgeError | None,
        embed_ms: float,
        quotes: dict[str, np.ndarray] | None = None,
    ) -> Grade:
        started = time.perf_counter()
        rubric = p.rubric
        seen = self._embedding_evidence(p, vectors)
        flags = seen.flags
        results = self._embedding_results(p, seen)
        mis_hits = seen.misconceptions

        judge_info = None
        if isinstance(outcome, JudgeError) or outcome is None:
            method, flags = "embedding", [*flags, Flag.EMBEDDING_ONLY]
            if outcome is None:
                reason = "no judge configured" if self.judge is None else "answer is empty"
            else:
                reason = f"judge unscored ({outcome}); graded by embeddings alone"
                flags.append(Flag.JUDGE_UNSCORED)
        else:
            method, reason = "embedding+judge", "judge and embeddings combined"
            # As without a judge, the sentences asserting a misconception earn nothing.
            wrong = [u for u, bad in zip(p.units, asserts(p.units, mis_hits), strict=True) if bad]
            results, mis_hits = self._combine(
                rubric, results, mis_hits, outcome, quotes or {}, wrong
            )
            judge_info = outcome.info
            if outcome.injection_suspected:
                flags.append(Flag.POSSIBLE_INJECTION)
        if p.injected and Flag.POSSIBLE_INJECTION not in flags:
            flags.append(Flag.POSSIBLE_INJECTION)
        if mis_hits:
            flags.append(Flag.MISCONCEPTION)
        # "List three": a group's items beyond the best `pick` are not needed.
        surplus = rubric.not_needed({r.id: r.credit for r in results})
        if surplus:
            results = [r.model_copy(update={"counted": r.id not in surplus}) for r in results]

        score = self._score(p, results, mis_hits, flags)
        timings = {"embed_ms": round(embed_ms, 2)}
        if judge_info is not None:
            timings["judge_ms"] = round(judge_info.latency_ms, 1)
        timings["score_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return Grade(
            question_id=rubric.id,
            question_number=rubric.number,
            question_title=rubric.title,
            score=score,
            band=band_for(score),
            method=method,
            method_reason=reason,
            key_points=results,
            misconceptions=mis_hits,
            flags=flags,
            feedback=feedback.compose(
                rubric.language, results, mis_hits, flags, answers_other=seen.answers_other
            ),
            embedder=self.embedder.name,
            judge=judge_info,
            timings_ms=timings,
            topicality=round(seen.topicality, 4),
            answers_other=seen.answers_other,
        )

    def _embedding_evidence(self, p: _Prepared, vectors: np.ndarray) -> _Evidence:
        """Best unit per key point, misconceptions matched, topicality: what embeddings see."""
        rubric, cal = p.rubric, self.calibration
        if not p.units:
            empty = np.zeros(len(rubric.key_points), dtype=np.float32)
            # An answer made only of text addressed to the grader is not empty: it says nothing.
            flags = [] if p.injected else [Flag.EMPTY]
            return _Evidence(
                empty, empty, None, [None] * len(rubric.key_points), [], 0.0, flags,
                named=[None] * len(rubric.key_points),
            )  # fmt: skip
        rv = self._rubric_vectors(rubric)
        flags = [Flag.TRUNCATED] if p.truncated else []
        cand = vectors[p.offset : p.offset + len(p.candidates)]
        whole = vectors[p.offset + len(p.candidates)]
        # Misconceptions are matched against sentences and their clauses.
        claims = p.units + p.clauses
        key_texts = [k.text for k in rubric.key_points]
        start = p.offset + len(p.candidates) + 1
        claim_vectors = np.vstack([cand[: len(p.units)], vectors[start : start + len(p.clauses)]])
        mis_hits = [
            MisconceptionHit(
                id=rubric.misconceptions[h.index].id,
                text=rubric.misconceptions[h.index].text,
                penalty=rubric.misconceptions[h.index].penalty,
                source="embedding",
                similarity=round(h.similarity, 4),
                evidence=claims[h.unit],
            )
            for h in coverage.misconception_matches(
                rv.misconceptions,
                claim_vectors,
                rv.key_points,
                cal,
                len(p.units),
                denied=np.array(
                    [[denies(c, m.text) for c in claims] for m in rubric.misconceptions],
                    dtype=bool,
                ).reshape(len(rubric.misconceptions), len(claims)),
                worded=self._claim_words(rubric, claims),
                # A claim is not measured against the key points it denies.
                excluded=self._opposes(key_texts, claims, denies),
            )
        ]
        lex = coverage.lexical_features(key_texts, rubric.question, p.answer, p.units)
        sims, recall = self._candidate_features(p, cand, lex)
        match = coverage.key_point_evidence(
            sims,
            recall,
            cal,
            cross_language=detect_language(p.answer) != rubric.language,
            # Sentences of a reference answer repeat each other: they do not compete.
            distinct=not rubric.from_reference,
            # A sentence asserting a misconception earns no key-point credit, whatever words it
            # shares with the point it gets wrong.
            ignore=asserts(p.candidates, mis_hits),
            # Nor is a sentence that turns a key point around evidence of it.
            excluded=self._opposes(key_texts, p.candidates, reverses),
        )
        named = self._named(p, [h.evidence for h in mis_hits if h.evidence])
        # A question that asks for a list is answered by naming; any other asks for more.
        if not is_list_question(rubric.question) and is_term_list(p.answer):
            flags.append(Flag.TERM_LIST)
        topical = max(coverage.topicality(whole, t) for t in rv.topic)
        if topical < cal.off_topic and not any(i is not None for i in named):
            flags.append(Flag.OFF_TOPIC)
        # Its own question's closeness counts its key points too: a partial answer that states
        # one point well (say, only the learning rate for "how to tune a model") stays its own.
        own = max(topical, float((rv.key_points @ whole).max()))
        other = self._answers_other(rubric, whole, own)
        if other is not None:
            flags.append(Flag.ANSWERS_OTHER_QUESTION)
        evidence: list[str | None] = [
            p.units[n] if n is not None else p.candidates[i]
            for i, n in zip(match.index, named, strict=True)
        ]
        similarity = sims[np.arange(len(sims)), match.index]
        return _Evidence(
            similarity, match.strength, lex, evidence, mis_hits, topical, flags, other, named,
            turned=match.turned if match.turned is not None else np.zeros(len(sims), dtype=bool),
        )  # fmt: skip

    def _candidate_features(
        self, p: _Prepared, cand: np.ndarray, lex: coverage.LexicalFeatures
    ) -> tuple[np.ndarray, np.ndarray]:
        """(key points × candidates) similarity and word recall, the two terms of a candidate's
        evidence for a key point (`Calibration.evidence`); recall is one column (the whole
        answer's) for calibrations without `local_recall`."""
        rubric, rv = p.rubric, self._rubric_vectors(p.rubric)
        # Compared without the question's direction: restating the question earns nothing.
        # One product for key points and their listed alternatives; an alternative's row
        # raises its key point's where it matches better.
        both = coverage.similarity_matrix(
            np.vstack([rv.key_points, rv.examples]), cand, question=rv.topic[0]
        )
        sims = both[: len(rv.key_points)]
        np.maximum.at(sims, rv.example_of, both[len(rv.key_points) :])
        if not self.calibration.local_recall:
            return sims, lex.key_points[:, None]
        # A key point is stated somewhere: its words count where they meet.
        recall = coverage.candidate_recall(
            [coverage.wordings(k.text) for k in rubric.key_points],
            [content_tokens(c) for c in p.candidates],
            content_tokens(rubric.question),
        )
        return sims, recall

    @staticmethod
    def _opposes(
        key_points: list[str], texts: list[str], test: Callable[[str, str], bool]
    ) -> np.ndarray:
        """(key points × texts): `test(text, key point)`, e.g. the text denies the key point."""
        found = np.array([[test(t, k) for t in texts] for k in key_points], dtype=bool)
        return found.reshape(len(key_points), len(texts))

    @staticmethod
    def _claim_words(rubric: Rubric, claims: list[str]) -> np.ndarray:
        """(misconception, claim): the claim repeats a word of the misconception that the
        question does not use, so it shares the wrong claim and not only the topic."""
        asked = content_tokens(f"{rubric.title} {rubric.question}")
        own = [content_tokens(m.text) - asked for m in rubric.misconceptions]
        words = [content_tokens(c) for c in claims]
        return np.array([[bool(o & w) for w in words] for o in own], dtype=bool).reshape(
            len(own), len(claims)
        )

    def _named(self, p: _Prepared, wrong: list[str]) -> list[int | None]:
        """Per key point, the unit of a terse answer to a list question that names its item.

        "列举三种…" is answered by naming items, and a terse list of the right terms
        ("正则化、dropout、数据增强、早停") earns the points it names. Only terse answers:
        in a longer one, an item named but not explained is graded by what is said about it."""
        rubric = p.rubric
        if visible_length(p.answer) > TERSE_CHARS or not is_list_question(rubric.question):
            return [None] * len(rubric.key_points)
        labels = [k.label for k in rubric.key_points]
        return coverage.named_key_points(labels, rubric.question, p.units, wrong)

    def _answers_other(self, rubric: Rubric, whole: np.ndarray, own: float) -> OtherQuestion | None:
        """The question of the set this answer matches clearly better than its own, if any.

        Duplicates (duplicate_of, either way) never count against each other."""
        margin = self.calibration.other_question_margin
        if margin is None:
            return None
        twins = {rubric.id, rubric.duplicate_of}
        best: tuple[float, Rubric] | None = None
        for other, topic in self._compare_topics():
            if other.id in twins or other.duplicate_of == rubric.id:
                continue
            closeness = max(coverage.topicality(whole, t) for t in topic)
            if best is None or closeness > best[0]:
                best = (closeness, other)
        if best is None or best[0] - own < margin:
            return None
        found = best[1]
        return OtherQuestion(
            id=found.id,
            number=found.number,
            title=found.title,
            margin=round(best[0] - own, 4),
        )

    def _compare_topics(self) -> list[tuple[Rubric, np.ndarray]]:
        """`compare_with` with its topic vectors, encoded in one call the first time they are
        needed, then kept: every answer is held against all of them, so neither the encoding
        nor the rubric hashing that finds cached vectors is repeated per answer."""
        if self._other_topics is None:
            self._encode_rubrics(self.compare_with)
            self._other_topics = [
                (r, self._vectors[r.content_hash()].topic) for r in self.compare_with
            ]
        return self._other_topics

    def _embedding_results(self, p: _Prepared, seen: _Evidence) -> list[KeyPointResult]:
        """Per key point: calibrated credit from similarity and lexical features."""
        rubric, sims, lex = p.rubric, seen.similarity, seen.lexical
        if lex is not None:
            credit = self.calibration.credit(seen.strength, length=lex.length)
            # An opposite verdict on a true/false statement, or the point turned around.
            contradicted = lex.contradicted | seen.turned
            credit[contradicted] = 0.0
            # A terse list that names a key point's item earns it (see _named).
            named = np.array([i is not None for i in seen.named], dtype=bool)
            credit[named & ~contradicted] = 1.0
            if Flag.TERM_LIST in seen.flags:
                # Terms named, none explained: a teacher "deducts some" (a bare list of all
                # four of Q4's points is given 65-90, cases-styles h2-q04-bullets), so no point
                # earns more than the ramp's knee credit.
                credit = np.minimum(credit, self.calibration.knee_credit)
        else:
            credit = np.zeros_like(sims)
            contradicted = np.zeros(len(sims), dtype=bool)
        return [
            KeyPointResult(
                id=k.id,
                label=k.label,
                text=k.text,
                weight=k.weight,
                credit=float(c),
                status=Status.CONTRADICTED if x else self._status(float(c)),
                embedding_credit=float(c),
                similarity=round(float(s), 4) if p.units else None,
                evidence=e,
            )
            for k, c, s, e, x in zip(
                rubric.key_points, credit, sims, seen.evidence, contradicted, strict=True
            )
        ]

    def _score(
        self,
        p: _Prepared,
        results: list[KeyPointResult],
        mis_hits: list[MisconceptionHit],
        flags: list[Flag],
    ) -> float:
        """Weighted credit, less misconception penalties, capped when off topic; 0 when empty.

        The calibrated scale belongs to the embeddings (it corrects how they under-credit a
        stated point); a judge's verdicts already sit on the rubric's scale (covered is the whole
        point). So with a judge the score mixes the two shares, only the embeddings' scaled."""
        if not p.units:
            return 0.0
        if not any(r.judge_verdict is not None for r in results):
            share = p.rubric.weighted_share({r.id: r.credit for r in results})
            score = 100 * self.calibration.scaled(share)
        else:
            # A point the judge found contradicted or missing earns nothing from either side
            # (_combine); the embeddings' share counts only the credit the combination kept.
            embedding = {
                r.id: 0.0
                if r.judge_verdict is not None and r.credit == 0
                else r.embedding_credit or 0.0
                for r in results
            }
            verdicts = {
                r.id: VERDICT_CREDIT[r.judge_verdict]
                for r in results
                if r.judge_verdict is not None
            }
            w = self.settings.judge_weight
            judge_share = p.rubric.weighted_share({**embedding, **verdicts})
            embedding_share = self.calibration.scaled(p.rubric.weighted_share(embedding))
            score = 100 * (w * judge_share + (1 - w) * embedding_share)
        score -= sum(h.penalty for h in mis_hits)
        if Flag.OFF_TOPIC in flags or Flag.ANSWERS_OTHER_QUESTION in flags:
            score = min(score, self.calibration.off_topic_cap)
        return round(float(np.clip(score, 0.0, 100.0)), 1)

    def _supported(
        self,
        rubric: Rubric,
        result: KeyPointResult,
        quote: str | None,
        quotes: dict[str, np.ndarray],
    ) -> bool:
        """Whether a covered/partial verdict has the answer's words behind it: the embeddings
        see the point themselves, or the judge's quote (copied from the answer) states it as
        an answer sentence would. A judge talked into "all covered", or fooled by an answer to
        another question in the same vocabulary, quotes words that state no key point."""
        cal = self.calibration
        if cal.judge_quote is None or (result.embedding_credit or 0.0) >= cal.partial:
            return True
        if not quote or quote not in quotes:
            return False
        rv = self._rubric_vectors(rubric)
        k = next(i for i, kp in enumerate(rubric.key_points) if kp.id == result.id)
        # The quote as a one-sentence answer: its evidence for every key point, so that a quote
        # stating another point (the concept, quoted for "robustness") is discounted for this one.
        sims = coverage.similarity_matrix(
            rv.key_points, quotes[quote][None, :], question=rv.topic[0]
        )
        recall = coverage.candidate_recall(
            [coverage.wordings(kp.text) for kp in rubric.key_points],
            [content_tokens(quote)],
            content_tokens(rubric.question),
        )
        found = coverage.key_point_evidence(
            sims, recall, cal,
            cross_language=detect_language(quote) != rubric.language,
            distinct=not rubric.from_reference,
        )  # fmt: skip
        return float(found.strength[k]) >= cal.judge_quote

    def _status(self, credit: float) -> Status:
        if credit >= self.calibration.covered:
            return Status.COVERED
        if credit >= self.calibration.partial:
            return Status.PARTIAL
        return Status.MISSED

    def _combine(
        self,
        rubric: Rubric,
        results: list[KeyPointResult],
        embedding_hits: list[MisconceptionHit],
        outcome: JudgeOutcome,
        quotes: dict[str, np.ndarray],
        wrong_sentences: Sequence[str],
    ) -> tuple[list[KeyPointResult], list[MisconceptionHit]]:
        """Weighted mean of judge and embedding credit; points the judge finds contradicted or
        missing earn nothing, and credit the answer's words do not support is not given
        (`_supported`), nor credit quoted from a sentence that asserts a misconception (as with
        the embeddings alone)."""
        w = self.settings.judge_weight
        combined = []
        for r in results:
            j = outcome.judgements.get(r.id)
            if j is None:  # not judged: embedding credit stands
                combined.append(r)
                continue
            reason = None  # why we downgrade the judge's covered/partial, if we do
            if j.verdict in (Verdict.COVERED, Verdict.PARTIAL):
                if j.evidence and any(quotes_claim(j.evidence, c) for c in wrong_sentences):
                    reason = WRONG_QUOTE
                elif not self._supported(rubric, r, j.evidence, quotes):
                    reason = UNSUPPORTED
                if reason:
                    j = j.model_copy(
                        update={
                            "verdict": Verdict.MISSING,
                            "reason": f"{reason} ({j.verdict.value})",
                        }
                    )
            if j.verdict == Verdict.CONTRADICTED:
                credit, status = 0.0, Status.CONTRADICTED
            elif j.verdict == Verdict.MISSING and reason is None:
                # The judge read the answer and found the point absent: embedding credit there
                # comes from shared words ("right words, wrong claim"), so it is not kept. Our
                # own downgrades above leave the embeddings' credit as it was.
                credit, status = 0.0, Status.MISSED
                if (r.embedding_credit or 0.0) > 0:
                    said = f": {j.reason}" if j.reason else ""
                    j = j.model_copy(update={"reason": OVERRULED + said})
            else:
                credit = w * VERDICT_CREDIT[j.verdict] + (1 - w) * (r.embedding_credit or 0.0)
                status = self._status(credit)
            combined.append(
                r.model_copy(
                    update={
                        "credit": credit,
                        "status": status,
                        "judge_verdict": j.verdict,
                        "judge_evidence": j.evidence,
                        "judge_reason": j.reason,
                    }
                )
            )
        # The judge's misconceptions, plus the embedding matches it did not name: a small judge
        # misses claims that the (strict) embedding match finds word for word.
        by_id = {m.id: m for m in rubric.misconceptions}
        hits = [
            MisconceptionHit(id=i, text=by_id[i].text, penalty=by_id[i].penalty, source="judge")
            for i in dict.fromkeys(outcome.misconceptions)
            if i in by_id
        ]
        named = {h.id for h in hits}
        return combined, hits + [h for h in embedding_hits if h.id not in named]

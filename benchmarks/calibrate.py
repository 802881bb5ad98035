"""Fit the least-squares calibration (evaluator/calibration.py CALIBRATIONS) to human grades.

For the embedders still on the least-squares model (all-MiniLM-L6-v2 and the hashing stub).
The default embedder uses the anchored model instead (zero evidence earns nothing, a score
scale fitted to teachers' bands): benchmarks/scale.py fits and measures that one.

Data: the dev sets in ../shared/benchmarks (mohler.csv, English, 0-5; ads-dev.csv, Chinese,
0-10). Every answer is graded once by the real Grader against an ad-hoc rubric built from its
question's reference answer (key points = reference sentences), which gives each key point its
similarity (best unit/window, question direction removed) and the lexical features the grader
computes (evaluator.coverage.lexical_features). The credit model is the one in
`Calibration.credit`:

    credit = clip(w_sim·sim + w_lex·recall + w_len·shortness, 0, 1)

with no intercept, so a key point with no evidence earns nothing (issue #11; a free intercept
fitted to lenient graders handed every such point about a third of its credit), and w_len ≥ 0.
The score is the mean credit (ad-hoc key points weigh the same). Fitted by least squares
on the 0-1 human score (Gauss-Newton through the clip), each dataset weighing the same, so one
calibration serves English and Chinese. Answers paired with other questions' rubrics join the
fit as zero-score negatives, with a weight (NEGATIVE_WEIGHTS) chosen by cross-validation inside
the training rows. Then, on the same training rows:
  - off_topic: the largest topicality threshold that would cap at most 1% of the answers humans
    scored >= 50%; how many answers to *other* questions it catches is reported;
  - partial: the 95th percentile of key-point credit when the answer belongs to another
    question (an unrelated answer rarely looks "partly covered");
  - covered: the median key-point credit in answers humans gave full marks.

Honest figures: questions are split into k folds per dataset (seeded); for each fold the model
is fitted on the other folds of both datasets and scores the held-out questions. The pooled
held-out predictions are compared with the humans (Pearson, Spearman, RMSE, QWK), next to the
naive baseline (whole-answer cosine with the reference, same model, same rows). Finally the
model is fitted on all rows, the real Grader re-grades everything with it (checking that the
fitted arithmetic and the grader agree), and the replacement CALIBRATIONS entry is printed.

    nice .venv/bin/python benchmarks/calibrate.py --keep-vectors        # MiniLM and hashing
    nice .venv/bin/python benchmarks/calibrate.py --embedder hashing --folds 5 --seed 1
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from datasets import (
    DATASETS,
    EMBEDDERS,
    MemoEmbedder,
    load,
    memo_embedder,
    naive_cosines,
    question_folds,
)

from evaluator.quality.agreement import (
    AgreementRow,
    agreement,
    kappa_levels,
    pearson,
    rubrics_for,
    spearman,
)
from evaluator.rubrics.model import Rubric
from evaluator.scoring import coverage
from evaluator.scoring.calibration import CALIBRATIONS, FALLBACK, Calibration
from evaluator.scoring.grader import Grader
from evaluator.scoring.prepare import MAX_UNITS
from evaluator.settings import Settings
from evaluator.text import content_tokens, normalise, split_units

MAX_ITER = 60
# Weight of the answers-to-other-questions part (target 0) next to each dataset's human part;
# chosen by cross-validation inside the training rows.
NEGATIVE_WEIGHTS = (0.0, 0.1, 0.25, 0.5)
# Off-topic thresholds set by hand instead of by the 1% rule. The hashing stub shares no token
# between many a good short answer and its question (topicality 0), so the rule would switch its
# gate off; 0.05 keeps it for unrelated text, and the figures below include its cost.
FIXED_OFF_TOPIC = {"hashing": 0.05}


@dataclass
class Table:
    """Per-key-point features of many graded answers (one row per key point)."""

    x: np.ndarray  # (K, 4): similarity, lexical, length, 1
    keep: np.ndarray  # (K,) 0 where the answer's verdict contradicts the key point's
    row: np.ndarray  # (K,) index of the answer
    n_rows: int

    def subset(self, rows: np.ndarray) -> Table:
        """Key points of the answers whose indexes are in `rows` (renumbered 0..)."""
        new_index = -np.ones(self.n_rows, dtype=int)
        new_index[rows] = np.arange(len(rows))
        sel = new_index[self.row] >= 0
        return Table(self.x[sel], self.keep[sel], new_index[self.row[sel]], len(rows))


@dataclass
class Dataset:
    name: str
    rows: list[AgreementRow]
    human: np.ndarray  # 0-1
    table: Table  # key points of answers with at least one unit
    graded: np.ndarray  # (n,) bool: answer has units (else it scores 0 by rule)
    topicality: np.ndarray  # (n,)
    naive: np.ndarray  # (n,) whole-answer cosine with the reference
    off_table: Table  # key points of answers paired with another question's rubric
    off_topicality: np.ndarray


def _features(grader: Grader, items: list, grades: list) -> tuple[Table, np.ndarray, np.ndarray]:
    xs, keeps, rows = [], [], []
    graded = np.zeros(len(items), dtype=bool)
    topical = np.zeros(len(items))
    for i, ((rubric, answer), grade) in enumerate(zip(items, grades, strict=True)):
        topical[i] = grade.topicality or 0.0
        sims = [k.similarity for k in grade.key_points]
        if any(s is None for s in sims):
            continue  # empty answer: no units, score 0 by rule
        graded[i] = True
        text = normalise(answer)
        units = split_units(text)[:MAX_UNITS]  # as the grader segments it
        lex = coverage.lexical_features(
            [k.text for k in rubric.key_points], rubric.question, text, units
        )
        for j, sim in enumerate(sims):
            xs.append([sim, lex.key_points[j], lex.length, 1.0])
            keeps.append(0.0 if lex.contradicted[j] else 1.0)
            rows.append(i)
    table = Table(np.array(xs), np.array(keeps), np.array(rows, dtype=int), len(items))
    return table, graded, topical


def other_questions(rubrics: list[Rubric]) -> dict[str, list[Rubric]]:
    """For each rubric, the set's rubrics of genuinely different questions.

    Question sets repeat themselves (mohler asks about the advantage of linked lists over arrays
    twice): a rubric sharing half its question or reference tokens is not "another question".
    """
    distinct = list({rb.id: rb for rb in rubrics}.values())
    tokens = {
        rb.id: (content_tokens(rb.question), content_tokens(rb.reference_answer)) for rb in distinct
    }

    def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
        return len(a & b) / max(len(a | b), 1)

    return {
        rb.id: [
            o
            for o in distinct
            if o.id != rb.id
            and jaccard(tokens[rb.id][0], tokens[o.id][0]) < 0.5
            and jaccard(tokens[rb.id][1], tokens[o.id][1]) < 0.5
        ]
        for rb in distinct
    }


def prepare(embedder: MemoEmbedder, seed: int) -> list[Dataset]:
    embedder_name = embedder.name
    grader = Grader(embedder, settings=Settings(use_cache=False))
    out = []
    for name in DATASETS:
        started = time.perf_counter()
        rows = load(name)
        rubrics = rubrics_for(rows)
        items = [(rb, r.answer) for rb, r in zip(rubrics, rows, strict=True)]
        grades = grader.grade_many(items)
        table, graded, topical = _features(grader, items, grades)
        # Each answer paired with the rubric of another question of the same set (seeded
        # choice), to see how an answer to a different question scores.
        rng = np.random.RandomState(seed)
        others = other_questions(rubrics)
        off_items = [
            (others[rb.id][rng.randint(len(others[rb.id]))], r.answer)
            for rb, r in zip(rubrics, rows, strict=True)
        ]
        off_grades = grader.grade_many(off_items)
        off_table, _, off_topical = _features(grader, off_items, off_grades)
        out.append(
            Dataset(
                name=name,
                rows=rows,
                human=np.array([r.human_fraction for r in rows]),
                table=table,
                graded=graded,
                topicality=topical,
                naive=naive_cosines(embedder, rows),
                off_table=off_table,
                off_topicality=off_topical,
            )
        )
        print(
            f"  {embedder_name} {name}: {len(rows)} answers graded twice in "
            f"{time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return out


# ---------------------------------------------------------------------------- the model


# Table.x columns: similarity, lexical recall, shortness, 1. The intercept (last) stays 0.
ANCHORED_COLUMNS = [0, 1, 2]


def credits(theta: np.ndarray, t: Table) -> np.ndarray:
    return np.clip(t.x @ theta, 0.0, 1.0) * t.keep


def mean_credit(theta: np.ndarray, t: Table) -> np.ndarray:
    counts = np.maximum(np.bincount(t.row, minlength=t.n_rows), 1)
    return np.bincount(t.row, credits(theta, t), minlength=t.n_rows) / counts


def fit_theta(
    parts: list[tuple[Table, np.ndarray, float]], free: list[int] = ANCHORED_COLUMNS
) -> np.ndarray:
    """Least squares of mean credit on the human score, Gauss-Newton through the clip.

    `parts`: (table, target scores of its answers, the part's total weight). The intercept is
    held at 0 (issue #11): a key point with no evidence (no similarity, no shared words) earns
    nothing, instead of the share of the human mean a free intercept would hand it. A negative
    length weight (shortness rewarded) is refitted at 0.
    """

    def pieces(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        jac, res, wts = [], [], []
        for t, y, weight in parts:
            counts = np.maximum(np.bincount(t.row, minlength=t.n_rows), 1)
            z = t.x @ theta
            active = ((z > 0) & (z < 1)) * t.keep
            j = (
                np.stack(
                    [
                        np.bincount(t.row, active * t.x[:, c], minlength=t.n_rows)
                        if c in free
                        else np.zeros(t.n_rows)
                        for c in range(t.x.shape[1])
                    ],
                    1,
                )
                / counts[:, None]
            )
            jac.append(j)
            res.append(y - mean_credit(theta, t))
            wts.append(np.full(t.n_rows, weight / t.n_rows))
        return np.vstack(jac), np.concatenate(res), np.concatenate(wts)

    def loss(theta: np.ndarray) -> float:
        _, r, w = pieces(theta)
        return float(np.sum(w * r**2))

    # Start: ordinary least squares on the per-answer feature means (no clip).
    means, ys, ws = [], [], []
    for t, y, weight in parts:
        counts = np.maximum(np.bincount(t.row, minlength=t.n_rows), 1)
        means.append(
            np.stack(
                [np.bincount(t.row, t.x[:, c], minlength=t.n_rows) for c in range(t.x.shape[1])], 1
            )
            / counts[:, None]
        )
        ys.append(y)
        ws.append(np.full(t.n_rows, np.sqrt(weight / t.n_rows)))
    w = np.concatenate(ws)
    theta = np.zeros(parts[0][0].x.shape[1])
    theta[free] = np.linalg.lstsq(
        np.vstack(means)[:, free] * w[:, None], np.concatenate(ys) * w, rcond=None
    )[0]
    current = loss(theta)
    for _ in range(MAX_ITER):
        j, r, wt = pieces(theta)
        sw = np.sqrt(wt)
        step = np.linalg.lstsq(j * sw[:, None], r * sw, rcond=None)[0]
        for scale in (1.0, 0.5, 0.25, 0.1, 0.03):
            trial = theta + scale * step
            value = loss(trial)
            if value < current - 1e-12:
                theta, current = trial, value
                break
        else:
            break
    if theta[2] < 0 and 2 in free:
        return fit_theta(parts, [c for c in free if c != 2])
    return theta


def to_calibration(
    theta: np.ndarray, off_topic: float, partial: float, covered: float, base: Calibration
) -> Calibration:
    """θ (weights of similarity, lexical, length; intercept) as a ramp on
    z = similarity + ... : credit = (z - low) / (high - low)."""
    w_sim = max(float(theta[0]), 1e-3)  # similarity must count for something
    return base.model_copy(
        update={
            "low": round(float(-theta[3] / w_sim), 4) + 0.0,  # + 0.0: never "-0.0"
            "high": round(float((1 - theta[3]) / w_sim), 4),
            "lexical": round(float(theta[1] / w_sim), 4),
            "length": round(float(theta[2] / w_sim), 4),
            "off_topic": round(off_topic, 5),
            "partial": round(partial, 3),
            "covered": round(covered, 3),
        }
    )


def scores(d: Dataset, theta: np.ndarray, off_topic: float, cap: float, rows: np.ndarray):
    """0-1 scores of `d`'s answers `rows` (the grader's arithmetic, weights all 1)."""
    graded_rows = rows[d.graded[rows]]
    t = d.table.subset(graded_rows)
    out = np.zeros(len(rows))
    out[d.graded[rows]] = mean_credit(theta, t)
    capped = d.graded[rows] & (d.topicality[rows] < off_topic)
    out[capped] = np.minimum(out[capped], cap / 100)
    return out


def fit(
    datasets: list[Dataset],
    train: list[np.ndarray],
    base: Calibration,
    negative_weight: float,
    fixed_off_topic: float | None = None,
) -> Calibration:
    parts = []
    for d, rows in zip(datasets, train, strict=True):
        graded_rows = rows[d.graded[rows]]
        parts.append((d.table.subset(graded_rows), d.human[graded_rows], 1.0))
        # Answers to other questions deserve nothing: they keep the floor of credit honest.
        if negative_weight > 0:
            neg = d.off_table.subset(graded_rows)
            parts.append((neg, np.zeros(neg.n_rows), negative_weight))
    theta = fit_theta(parts)
    # Off-topic threshold: cap at most 1% of the answers humans found at least half right.
    good = np.concatenate(
        [
            d.topicality[r][(d.human[r] >= 0.5) & d.graded[r]]
            for d, r in zip(datasets, train, strict=True)
        ]
    )
    off_topic = float(np.quantile(good, 0.01)) if len(good) else base.off_topic
    if fixed_off_topic is not None:
        off_topic = fixed_off_topic
    # Grades report topicality to 4 decimals: put the threshold on a rounding boundary so the
    # grader (unrounded) and this fit (rounded) always fall on the same side of it.
    off_topic = math.floor(off_topic * 1e4) / 1e4 - 0.00005
    # Status thresholds from the same training rows.
    off_credits, full_credits = [], []
    for d, rows in zip(datasets, train, strict=True):
        in_train = np.zeros(d.table.n_rows, dtype=bool)
        in_train[rows] = True
        off_credits.append(credits(theta, d.off_table)[in_train[d.off_table.row]])
        full = in_train & (d.human >= 0.999)
        full_credits.append(credits(theta, d.table)[full[d.table.row]])
    partial = float(np.quantile(np.concatenate(off_credits), 0.95))
    covered = max(float(np.median(np.concatenate(full_credits))), min(partial + 0.05, 1.0))
    return to_calibration(theta, off_topic, partial, covered, base)


def theta_of(c: Calibration) -> np.ndarray:
    span = c.high - c.low
    return np.array([1, c.lexical, c.length, -c.low]) / span


# ---------------------------------------------------------------------------- report


def _f(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def predict_by_folds(
    datasets: list[Dataset],
    rows: list[np.ndarray],
    k: int,
    seed: int,
    base: Calibration,
    negative_weight: float | None,
    fixed_off_topic: float | None = None,
) -> tuple[list[np.ndarray], list[float]]:
    """k-fold by question over `rows` of each dataset: every fold is scored by a model fitted
    on the other folds. `negative_weight` None: chosen inside each training part (nested).

    Returns the held-out scores (aligned with `rows`) and the weight used for each fold.
    """
    folds = [
        question_folds([d.rows[i] for i in r], k, seed) for d, r in zip(datasets, rows, strict=True)
    ]
    held_out = [np.zeros(len(r)) for r in rows]
    used = []
    for j in range(k):
        train = [r[f != j] for r, f in zip(rows, folds, strict=True)]
        w = negative_weight
        if w is None:
            w = choose_negative_weight(datasets, train, base, k, seed, fixed_off_topic)
        used.append(w)
        cal = fit(datasets, train, base, w, fixed_off_topic)
        theta = theta_of(cal)
        for d, r, f, out in zip(datasets, rows, folds, held_out, strict=True):
            test = f == j
            if test.any():
                out[test] = scores(d, theta, cal.off_topic, cal.off_topic_cap, r[test])
    return held_out, used


def choose_negative_weight(
    datasets: list[Dataset],
    rows: list[np.ndarray],
    base: Calibration,
    k: int,
    seed: int,
    fixed_off_topic: float | None = None,
) -> float:
    """The NEGATIVE_WEIGHTS entry with the best mean Pearson in k-fold CV within `rows` only."""
    best, best_value = NEGATIVE_WEIGHTS[0], -2.0
    for w in NEGATIVE_WEIGHTS:
        held_out, _ = predict_by_folds(datasets, rows, k, seed + 1, base, w, fixed_off_topic)
        value = float(
            np.mean(
                [pearson(p, d.human[r]) for d, r, p in zip(datasets, rows, held_out, strict=True)]
            )
        )
        if value > best_value:
            best, best_value = w, value
    return best


def cross_validate(
    datasets: list[Dataset],
    k: int,
    seed: int,
    base: Calibration,
    fixed_off_topic: float | None = None,
) -> None:
    every = [np.arange(len(d.rows)) for d in datasets]
    held_out, used = predict_by_folds(datasets, every, k, seed, base, None, fixed_off_topic)
    print(
        f"\nheld out ({k}-fold by question, seed {seed}; each fold scored by a model fitted on "
        f"the other folds, negative weight chosen inside them: {', '.join(map(str, used))}):"
    )
    print(f"  {'dataset':<8} {'n':>5}  pearson spearman   rmse    qwk | naive pearson spearman")
    for d, out in zip(datasets, held_out, strict=True):
        a = agreement(out, d.human, kappa_levels(d.rows))
        print(
            f"  {d.name:<8} {a.n:>5}  {_f(a.pearson)}  {_f(a.spearman)} {_f(a.rmse)} {_f(a.qwk)} |"
            f"       {pearson(d.naive, d.human):6.3f}   {spearman(d.naive, d.human):6.3f}"
        )


def final_fit(
    datasets: list[Dataset],
    base: Calibration,
    k: int,
    seed: int,
    fixed_off_topic: float | None = None,
) -> Calibration:
    every = [np.arange(len(d.rows)) for d in datasets]
    w = choose_negative_weight(datasets, every, base, k, seed, fixed_off_topic)
    cal = fit(datasets, every, base, w, fixed_off_topic)
    theta = theta_of(cal)
    print(f"\nfitted on all rows (in-sample; negative weight {w}):")
    for d in datasets:
        pred = scores(d, theta, cal.off_topic, cal.off_topic_cap, np.arange(len(d.rows)))
        a = agreement(pred, d.human, kappa_levels(d.rows))
        caught = float(np.mean(d.off_topicality < cal.off_topic))
        off = mean_credit(theta, d.off_table)
        print(
            f"  {d.name:<8} pearson {_f(a.pearson)} spearman {_f(a.spearman)} rmse {_f(a.rmse)} "
            f"qwk {_f(a.qwk)}; answers to other questions: {caught:.0%} flagged off-topic, "
            f"mean score before the cap {off.mean():.2f}"
        )
    return cal


def check_grader(embedder: MemoEmbedder, datasets: list[Dataset], cal: Calibration) -> None:
    """The real Grader with the fitted calibration must give the fitted scores."""
    grader = Grader(embedder, calibration=cal, settings=Settings(use_cache=False))
    theta = theta_of(cal)
    worst = 0.0
    for d in datasets:
        rubrics = rubrics_for(d.rows)
        graded = grader.grade_many([(rb, r.answer) for rb, r in zip(rubrics, d.rows, strict=True)])
        real = np.array([g.score for g in graded]) / 100
        fitted = scores(d, theta, cal.off_topic, cal.off_topic_cap, np.arange(len(d.rows)))
        worst = max(worst, float(np.max(np.abs(real - fitted))))
    print(f"  real Grader vs fitted arithmetic: largest difference {worst * 100:.2f} points")
    if worst > 0.002:
        raise SystemExit("the grader and the fitted model disagree: fix before shipping numbers")


def entry(name: str, cal: Calibration) -> str:
    """The CALIBRATIONS entry as it is written in evaluator/calibration.py (defaults left out)."""
    defaults = {k: f.default for k, f in Calibration.model_fields.items() if not f.is_required()}
    lines = [
        f"        {k}={v!r},"
        for k, v in cal.model_dump().items()
        if k not in defaults or v != defaults[k]
    ]
    return "\n".join([f'    "{name}": Calibration(', *lines, "    ),"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", action="append", help="repeatable; default: all three")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep-vectors",
        action="store_true",
        help="keep the embeddings in .cache/benchmarks/ so a rerun skips the model",
    )
    args = parser.parse_args()
    entries = []
    for name in args.embedder or [e for e in EMBEDDERS if CALIBRATIONS[e].scale is None]:
        if CALIBRATIONS.get(name, FALLBACK).scale is not None:
            raise SystemExit(f"{name} uses the anchored model: fit it with benchmarks/scale.py")
        print(f"== {name}")
        base = CALIBRATIONS.get(name, FALLBACK)
        embedder = memo_embedder(name, persist=args.keep_vectors)
        datasets = prepare(embedder, args.seed)
        embedder.save()
        fixed = FIXED_OFF_TOPIC.get(name)
        cross_validate(datasets, args.folds, args.seed, base, fixed)
        cal = final_fit(datasets, base, args.folds, args.seed, fixed)
        check_grader(embedder, datasets, cal)
        entries.append(entry(name, cal))
    today = datetime.date.today().isoformat()
    print(
        f"\n# Fitted {today} by `benchmarks/calibrate.py --folds {args.folds} --seed {args.seed}`"
        f" on ../shared/benchmarks/{{mohler,ads-dev}}.csv (all rows; held-out figures in "
        f"benchmarks/README.md)."
    )
    print("CALIBRATIONS: dict[str, Calibration] = {")
    print("\n".join(entries))
    print("}")


if __name__ == "__main__":
    main()

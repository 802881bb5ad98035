"""Do grades hold on questions and styles nobody tuned on? Every fitted number, fitted on the
pool of all graded data, measured on what it was not fitted to.

The pool: ../shared/benchmarks/ cases-dev.jsonl and cases-styles.jsonl (answers to the bundled
questions, each with a teacher's band) and mohler.csv, ads-dev.csv, asag-zh.csv (real student
answers with human scores, graded against rubrics cut from their reference answers). Each
answer's evidence is read once through the grader's own steps (prepare, encode, evidence:
similarity and word recall of every key point against every sentence, and the rules' masks);
a model then turns evidence into a score with its parameters, so that fitting is fast.

For every model, three columns per data set:
- in-sample: fitted on the whole pool, measured on it;
- held out by question: 5 folds of whole questions (scikit-learn GroupKFold over the pool);
  each answer is scored by the model fitted without its question;
- held out by style (cases-styles): each style scored by the model fitted without it.

Models:
- `shipped`: the calibration in evaluator/scoring/calibration.py as it is; only its score scale
  is refitted per fold (its other numbers were set by hand: they cannot be refitted, so its
  held-out figures flatter it);
- `logistic`: credit = sigmoid(bias + a·similarity + b·recall) per sentence, key points
  competing in that space with `exclusivity`, no score scale: 5 numbers, all fitted;
- `anchored`: the same with no evidence earning nothing (a restatement scores 0).

    nice .venv/bin/python benchmarks/generalization.py                  # every model, ~30 min
    nice .venv/bin/python benchmarks/generalization.py --model logistic --json out.json

Agreement: Pearson, Spearman, QWK (scikit-learn), RMSE on the 0-1 scale. Bands: the share of
cases in band, with ±10 for the levels a teacher grades on a scale (excellent, good,
good-with-extras, partial, english, list3) and exactly for the rest (restate, offtopic, empty,
padding, misconception, injection); "rewarded" counts injection cases over their band.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import DATA, PROJECT, memo_embedder

from evaluator.polarity import reverses
from evaluator.quality.agreement import read_rows
from evaluator.quality.golden import read_golden
from evaluator.result import Flag
from evaluator.rubrics.adhoc import adhoc_rubric
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.model import Rubric
from evaluator.scoring import coverage
from evaluator.scoring.calibration import CALIBRATIONS, Calibration
from evaluator.scoring.evidence import asserts, candidate_features, opposes
from evaluator.scoring.grader import Grader
from evaluator.scoring.prepare import prepare
from evaluator.settings import Settings
from evaluator.text import detect_language

HUMAN = ("mohler", "ads-dev", "asag-zh")
BANDED = ("cases-dev", "cases-styles")
SCALED_LEVELS = {"excellent", "good", "good-with-extras", "partial", "english", "list3"}
TOLERANCE = 0.10
FOLDS = 5


@dataclass
class Item:
    """One graded answer and the evidence the grader's steps found in it."""

    dataset: str
    group: str  # its question: the unit held out
    rubric: Rubric
    sims: np.ndarray  # (key points × candidates) similarity, question direction removed
    recall: np.ndarray  # (key points × candidates) word recall
    ignore: np.ndarray  # (candidates,) asserts a listed misconception
    turned: np.ndarray  # (key points × candidates) turns the key point around
    cross: bool  # in another language than its rubric
    length: float  # coverage.length_ratio of the answer
    contradicted: np.ndarray  # (key points,) an opposite true/false verdict
    named: np.ndarray  # (key points,) named in a terse list to a list question
    term_list: bool
    capped: bool  # off topic, or an answer to another question
    penalty: float  # the misconceptions found
    empty: bool
    target: float | None = None  # human score, 0-1
    band: tuple[float, float] | None = None  # teacher's band, 0-1
    level: str = ""
    style: str = ""

    def __post_init__(self) -> None:
        # The share of a rubric without "pick k" groups is a dot product (fitting's hot path).
        self.weights = np.array([k.weight for k in self.rubric.key_points])
        self.full = self.rubric.full_weight() if not self.rubric.groups else 0.0

    def share(self, credit: np.ndarray) -> float:
        if self.full > 0:
            return float(self.weights @ credit) / self.full
        return self.rubric.weighted_share(
            {kp.id: float(c) for kp, c in zip(self.rubric.key_points, credit, strict=True)}
        )


def extract(embedder_name: str) -> list[Item]:
    """Every answer of the pool through prepare → encode → evidence, once (cached in .cache/)."""
    cache = PROJECT / ".cache" / "benchmarks" / f"generalization-{embedder_name}.pickle"
    if cache.is_file():
        with cache.open("rb") as fh:  # plain dicts: the script may run as __main__ or imported
            return [Item(**fields) for fields in pickle.load(fh)]
    embedder = memo_embedder(embedder_name, persist=True)
    settings = Settings(use_cache=False)
    bundled = load_rubrics()
    items: list[Item] = []
    for name in BANDED:
        grader = Grader(embedder, settings=settings, compare_with=list(bundled))
        cases = read_golden(DATA / f"{name}.jsonl")
        pairs = [(bundled.find(c.question), c.answer) for c in cases]
        styles = {c["case"]: c.get("style", "") for c in _jsonl(DATA / f"{name}.jsonl")}
        for case, item in zip(cases, _items(grader, name, pairs), strict=True):
            item.band = (case.min / 100, case.max / 100)
            item.level, item.style = case.level or "", styles.get(case.case or "", "")
            items.append(item)
    for name in HUMAN:
        grader = Grader(embedder, settings=settings)
        rows = read_rows(DATA / f"{name}.csv")
        pairs = [(adhoc_rubric(r.question, r.reference_answer), r.answer) for r in rows]
        for row, item in zip(rows, _items(grader, name, pairs), strict=True):
            item.target = row.human_fraction
            items.append(item)
    embedder.save()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as fh:
        fields = set(Item.__dataclass_fields__)
        pickle.dump(
            [{k: v for k, v in vars(i).items() if k in fields} for i in items], fh, protocol=5
        )
    return items


def _jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _items(grader: Grader, dataset: str, pairs: Sequence[tuple[Rubric, str]]) -> list[Item]:
    prepared = [prepare(r, a) for r, a in pairs]
    vectors = grader.encoder.answers(prepared)
    out = []
    for p, v in zip(prepared, vectors, strict=True):
        ev = grader.evidence(p, v)
        rubric, k = p.rubric, len(p.rubric.key_points)
        if v is None or ev.lexical is None:
            zero = np.zeros((k, 0), dtype=np.float32)
            out.append(Item(dataset, rubric.id, rubric, zero, zero, np.zeros(0, bool),
                            zero.astype(bool), False, 0.0, np.zeros(k, bool), np.zeros(k, bool),
                            False, False, 0.0, True))  # fmt: skip
            continue
        sims, recall = candidate_features(p, v.candidates, grader.encoder.rubric(rubric),
                                          grader.calibration, ev.lexical)  # fmt: skip
        key_texts = [kp.text for kp in rubric.key_points]
        out.append(
            Item(
                dataset,
                rubric.id if dataset in BANDED else f"{dataset}:{rubric.question}",
                rubric,
                sims.astype(np.float32),
                np.broadcast_to(recall, sims.shape).copy(),
                np.asarray(asserts(p.candidates, ev.misconceptions), dtype=bool),
                opposes(key_texts, p.candidates, reverses),
                detect_language(p.answer) != rubric.language,
                ev.lexical.length,
                ev.lexical.contradicted,
                np.array([n is not None for n in ev.named], bool),
                Flag.TERM_LIST in ev.flags,
                Flag.OFF_TOPIC in ev.flags or Flag.ANSWERS_OTHER_QUESTION in ev.flags,
                float(sum(h.penalty for h in ev.misconceptions)),
                False,
            )
        )
    return out


# ---------------------------------------------------------------------------- models


@dataclass
class Model:
    """Evidence → credit per key point → share; `fit` sets its numbers from items."""

    name: str
    params: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def credits(self, item: Item) -> np.ndarray:
        raise NotImplementedError

    def score(self, item: Item) -> float:
        if item.empty:
            return 0.0
        credit = self.credits(item)
        credit = np.where(item.contradicted, 0.0, credit)
        credit = np.where(item.named & ~item.contradicted, 1.0, credit)
        if item.term_list:
            credit = np.minimum(credit, self.term_cap())
        value = self.scale(item.share(credit)) - item.penalty / 100
        if item.capped:
            value = min(value, 0.10)
        return float(np.clip(value, 0.0, 1.0))

    def scale(self, share: float) -> float:
        return share

    def score_all(self, items: Sequence[Item]) -> np.ndarray:
        return np.array([self.score(i) for i in items])

    def term_cap(self) -> float:
        return 1.0

    def fit(self, items: Sequence[Item]) -> None:
        pass


class Shipped(Model):
    """The shipped calibration, its scale's knots refitted (scale.py's procedure)."""

    def __init__(self, cal: Calibration) -> None:
        super().__init__("shipped")
        self.cal = cal
        self.knots = np.array([s for s, _ in cal.scale or ((0.0, 0.0), (1.0, 1.0))])
        self.values = np.array([v for _, v in cal.scale or ((0.0, 0.0), (1.0, 1.0))])

    def credits(self, item: Item) -> np.ndarray:
        cal = self.cal
        found = coverage.key_point_evidence(
            item.sims, item.recall, cal, cross_language=item.cross,
            distinct=not item.rubric.from_reference, ignore=list(item.ignore),
            excluded=item.turned,
        )  # fmt: skip
        credit = cal.credit(found.strength, length=item.length)
        if found.turned is not None:
            credit = np.where(found.turned, 0.0, credit)
        return credit

    def term_cap(self) -> float:
        return self.cal.knee_credit

    def scale(self, share: float) -> float:
        return float(np.interp(share, self.knots, self.values))

    def fit(self, items: Sequence[Item]) -> None:
        """The scale's inner values by least squares on the pool's targets (band centres for
        banded items), kept increasing: what scale.py fits, on the whole pool."""
        shares = np.array([self._share(i) for i in items])
        targets = np.array([_centre(i) for i in items])
        weights = _weights(items)
        basis = np.stack([np.interp(shares, self.knots, np.eye(len(self.knots))[j])
                          for j in range(len(self.knots))], axis=1)  # fmt: skip
        inner = slice(1, len(self.knots) - 1)
        rest = basis[:, -1]  # the last knot is fixed at 1
        w = np.sqrt(weights)
        solved, *_ = np.linalg.lstsq(basis[:, inner] * w[:, None], (targets - rest) * w, rcond=None)
        values = np.concatenate([[0.0], np.maximum.accumulate(np.clip(solved, 0, 1)), [1.0]])
        self.values = values

    def _share(self, item: Item) -> float:
        if item.empty:
            return 0.0
        return item.share(self.credits(item))


class AsShipped(Shipped):
    """The shipped calibration exactly, scale included: nothing refitted (in-sample on
    cases-dev, where its numbers were set by hand)."""

    def __init__(self, cal: Calibration) -> None:
        super().__init__(cal)
        self.name = "as-shipped"

    def fit(self, items: Sequence[Item]) -> None:
        pass


class Pool:
    """The items' evidence as padded arrays, so a model with numeric parameters scores the
    whole pool at once (fitting is many such passes)."""

    def __init__(self, items: Sequence[Item]) -> None:
        n = len(items)
        k = max(len(i.rubric.key_points) for i in items)
        c = max(max(i.sims.shape[1] for i in items), 1)
        self.sims = np.zeros((n, k, c), np.float32)
        self.recall = np.zeros((n, k, c), np.float32)
        self.valid = np.zeros((n, k, c), bool)
        self.blocked = np.zeros((n, k, c), bool)
        self.weights = np.zeros((n, k))
        for row, i in enumerate(items):
            kk, cc = i.sims.shape
            self.sims[row, :kk, :cc], self.recall[row, :kk, :cc] = i.sims, i.recall
            self.valid[row, :kk, :cc] = True
            self.blocked[row, :kk, :cc] = i.ignore[None, :] | i.turned
            self.weights[row, : len(i.weights)] = i.weights
        self.cross = np.array([i.cross for i in items])
        self.distinct = np.array([not i.rubric.from_reference for i in items])
        # "pick k" groups (rubric.weighted_share): only each group's best `pick` members count.
        self.full = np.array([i.full or i.rubric.full_weight() for i in items])
        self.groups: list[tuple[int, list[int], list[tuple[list[int], int]]]] = []
        for row, i in enumerate(items):
            if i.rubric.groups:
                index = {kp.id: n for n, kp in enumerate(i.rubric.key_points)}
                grouped = [
                    (sorted(index[m] for m in g.key_points), g.pick) for g in i.rubric.groups
                ]
                inside = {n for members, _ in grouped for n in members}
                alone = [n for n in range(len(index)) if n not in inside]
                self.groups.append((row, alone, grouped))
        kmask = np.zeros((n, k), bool)
        for row, i in enumerate(items):
            kmask[row, : len(i.rubric.key_points)] = True
        self.kmask = kmask
        self.contradicted = np.zeros((n, k), bool)
        self.named = np.zeros((n, k), bool)
        for row, i in enumerate(items):
            self.contradicted[row, : len(i.contradicted)] = i.contradicted
            self.named[row, : len(i.named)] = i.named
        self.term = np.array([i.term_list for i in items])
        self.capped = np.array([i.capped for i in items])
        self.penalty = np.array([i.penalty for i in items]) / 100
        self.empty = np.array([i.empty for i in items])
        self.items = list(items)


class Logistic(Model):
    """credit = sigmoid(bias + a·sim + b·recall) of the best sentence, key points competing.

    Per candidate z = a·sim + b·recall (across languages b is unavailable: a·sim, shifted by
    `cross`); for a written rubric, z -= exclusivity · (best z of the candidate − z); a sentence
    asserting a misconception or turning the point around is evidence of none. No score scale:
    the share of credit is the score."""

    NAMES = ("bias", "a", "b", "exclusivity", "cross")
    START = np.array([-3.0, 6.0, 3.0, 1.0, 0.0])

    def __init__(self) -> None:
        super().__init__("logistic", self.START.copy())

    def credits(self, item: Item) -> np.ndarray:
        bias, a, b, excl, cross = self.params
        if item.sims.shape[1] == 0:
            return np.zeros(len(item.sims))
        z = a * item.sims + (cross if item.cross else b * item.recall)
        if not item.rubric.from_reference:
            z = z - max(excl, 0.0) * (z.max(axis=0, keepdims=True) - z)
        z = np.where(item.ignore[None, :] | item.turned, -np.inf, z)
        return self.transform(z.max(axis=1), bias)

    def transform(self, best: np.ndarray, bias: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-(bias + best)))

    def term_cap(self) -> float:
        return 0.8

    def score_all(self, items: Sequence[Item]) -> np.ndarray:
        return self.scores(Pool(items))

    def scores(self, pool: Pool) -> np.ndarray:
        """Every item's score at once (the padded form of `score`)."""
        bias, a, b, excl, cross = self.params
        z = a * pool.sims + np.where(pool.cross[:, None, None], cross, b * pool.recall)
        z = np.where(pool.valid, z, -np.inf)
        best_per_candidate = z.max(axis=1, keepdims=True)
        with np.errstate(invalid="ignore"):  # padding: -inf less -inf
            spread = np.where(pool.valid, best_per_candidate - z, 0.0)
        z = np.where(pool.distinct[:, None, None], z - max(excl, 0.0) * spread, z)
        z = np.where(pool.blocked | ~pool.valid, -np.inf, z)
        credit = self.transform(z.max(axis=2), bias)
        credit = np.where(pool.contradicted, 0.0, credit)
        credit = np.where(pool.named & ~pool.contradicted, 1.0, credit)
        credit = np.where(pool.term[:, None], np.minimum(credit, self.term_cap()), credit)
        credit = np.where(pool.kmask, credit, 0.0)
        earned = pool.weights * credit
        share = earned.sum(axis=1)
        for row, alone, grouped in pool.groups:
            share[row] = earned[row, alone].sum() + sum(
                np.sort(earned[row, members])[::-1][:pick].sum() for members, pick in grouped
            )
        share = share / np.maximum(pool.full, 1e-9)
        value = share - pool.penalty
        value = np.where(pool.capped, np.minimum(value, 0.10), value)
        return np.where(pool.empty, 0.0, np.clip(value, 0.0, 1.0))

    def fit(self, items: Sequence[Item]) -> None:
        from scipy.optimize import minimize

        weights = _weights(items)
        pool = Pool(items)
        lows = np.array([i.band[0] if i.band else i.target for i in items], dtype=float)
        highs = np.array([i.band[1] if i.band else i.target for i in items], dtype=float)

        def loss(params: np.ndarray) -> float:
            self.params = params
            s = self.scores(pool)
            error = np.where(s < lows, lows - s, np.where(s > highs, s - highs, 0.0))
            return float(np.sum(weights * error**2))

        best = minimize(loss, self.params, method="Nelder-Mead",
                        options={"maxiter": 400, "xatol": 1e-3, "fatol": 1e-6})  # fmt: skip
        self.params = best.x


class Anchored(Logistic):
    """As `Logistic`, but no evidence earns nothing: credit = (σ(z + bias) − σ(bias)) /
    (1 − σ(bias)), 0 below. Restating the question or saying nothing then scores 0, as a
    teacher gives it, however lenient the pool's graders are elsewhere."""

    START = np.array([-3.0, 6.0, 3.0, 1.0, 0.0])

    def __init__(self) -> None:
        super().__init__()
        self.name = "anchored"

    def transform(self, best: np.ndarray, bias: float) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            floor = 1.0 / (1.0 + np.exp(-bias))
            raised = 1.0 / (1.0 + np.exp(-(bias + best)))
            credit = (raised - floor) / max(1.0 - floor, 1e-9)
        return np.clip(np.nan_to_num(credit, nan=0.0, neginf=0.0), 0.0, 1.0)


def _centre(item: Item) -> float:
    if item.target is not None:
        return item.target
    assert item.band is not None
    return (item.band[0] + item.band[1]) / 2


def _error(score: float, item: Item) -> float:
    """Squared distance to the human score, or to the teacher's band."""
    if item.target is not None:
        return (score - item.target) ** 2
    assert item.band is not None
    low, high = item.band
    return (low - score) ** 2 if score < low else (score - high) ** 2 if score > high else 0.0


def _weights(items: Sequence[Item]) -> np.ndarray:
    """Each data set weighs the same in a fit, however many answers it has."""
    count: dict[str, int] = defaultdict(int)
    for i in items:
        count[i.dataset] += 1
    return np.array([1.0 / count[i.dataset] for i in items])


# ---------------------------------------------------------------------------- evaluation


def held_out(make: Callable[[], Model], items: list[Item], by: str) -> np.ndarray:
    """Each item's score from a model fitted without its question (or its style)."""
    from sklearn.model_selection import GroupKFold

    scores = np.zeros(len(items))
    if by == "question":
        groups = [i.group for i in items]
        splits = GroupKFold(n_splits=FOLDS).split(np.zeros(len(items)), groups=groups)
    else:
        styles = sorted({i.style for i in items if i.dataset == "cases-styles"})
        splits = (
            (np.array([n for n, i in enumerate(items) if not (i.dataset == "cases-styles"
                                                           and i.style == s)]),
             np.array([n for n, i in enumerate(items) if i.dataset == "cases-styles"
                       and i.style == s]))
            for s in styles
        )  # fmt: skip
    for train, test in splits:
        model = make()
        model.fit([items[n] for n in train])
        scores[test] = model.score_all([items[n] for n in test])
    return scores


def report(items: list[Item], scores: np.ndarray) -> dict[str, dict[str, float]]:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import cohen_kappa_score

    out: dict[str, dict[str, float]] = {}
    for name in HUMAN:
        idx = [n for n, i in enumerate(items) if i.dataset == name]
        s, t = scores[idx], np.array([items[n].target for n in idx], dtype=float)
        levels = 11
        out[name] = {
            "pearson": float(pearsonr(s, t)[0]),
            "spearman": float(spearmanr(s, t)[0]),
            "qwk": float(
                cohen_kappa_score(
                    np.rint(s * (levels - 1)), np.rint(t * (levels - 1)), weights="quadratic"
                )
            ),
            "rmse": float(np.sqrt(np.mean((s - t) ** 2))),
        }
    for name in BANDED:
        idx = [n for n, i in enumerate(items) if i.dataset == name]
        scaled = [n for n in idx if items[n].level in SCALED_LEVELS]
        exact = [n for n in idx if items[n].level in {"restate", "offtopic", "empty"}]
        mis = [n for n in idx if items[n].level == "misconception"]
        inj = [n for n in idx if items[n].level == "injection"]
        out[name] = {
            "scaled_in_band": _share_in(items, scores, scaled, TOLERANCE),
            "restate_offtopic_empty": _share_in(items, scores, exact, 0.0),
            "misconception": _share_in(items, scores, mis, 0.0),
            "injection_rewarded": float(sum(scores[n] > items[n].band[1] for n in inj)),  # type: ignore[index]
            "all_in_band": _share_in(items, scores, idx, 0.0),
        }
    return out


def _share_in(items: list[Item], scores: np.ndarray, idx: list[int], tol: float) -> float:
    if not idx:
        return float("nan")
    inside = [items[n].band[0] - tol <= scores[n] <= items[n].band[1] + tol for n in idx]  # type: ignore[index]
    return float(np.mean(inside))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", default="use-multilingual")
    parser.add_argument(
        "--model", choices=["as-shipped", "shipped", "logistic", "anchored", "all"], default="all"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    items = extract(args.embedder)
    print(f"{len(items):,} graded answers: " + ", ".join(
        f"{d} {sum(i.dataset == d for i in items)}" for d in (*BANDED, *HUMAN)), file=sys.stderr)  # fmt: skip
    makers: dict[str, Callable[[], Model]] = {
        "as-shipped": lambda: AsShipped(CALIBRATIONS[args.embedder]),
        "shipped": lambda: Shipped(CALIBRATIONS[args.embedder]),
        "logistic": Logistic,
        "anchored": Anchored,
    }
    chosen = list(makers) if args.model == "all" else [args.model]
    results: dict[str, object] = {}
    for name in chosen:
        whole = makers[name]()
        whole.fit(items)
        inside = whole.score_all(items)
        by_question = held_out(makers[name], items, "question")
        by_style = held_out(makers[name], items, "style")
        results[name] = {
            "params": [round(float(p), 4) for p in whole.params] if len(whole.params) else None,
            "in_sample": report(items, inside),
            "held_out_by_question": report(items, by_question),
            "held_out_by_style": report(items, by_style)["cases-styles"],
        }
        _print(name, results[name])  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _print(name: str, r: dict[str, object]) -> None:
    inside, held = r["in_sample"], r["held_out_by_question"]
    assert isinstance(inside, dict) and isinstance(held, dict)
    print(f"\n== {name}" + (f"  params {r['params']}" if r["params"] else ""))
    print(f"{'set':<13} {'figure':<23} {'in-sample':>9} {'held out':>9} {'gap':>7}")
    for dataset, figures in inside.items():
        for figure, value in figures.items():
            other = held[dataset][figure]
            print(f"{dataset:<13} {figure:<23} {value:>9.3f} {other:>9.3f} {value - other:>7.3f}")
    style = r["held_out_by_style"]
    assert isinstance(style, dict)
    print("cases-styles, each style held out: "
          + ", ".join(f"{k} {v:.3f}" for k, v in style.items()))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

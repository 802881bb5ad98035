"""Calibration: the ramp, the evidence sum, the per-embedder table and its sanity."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from evaluator.scoring.calibration import CALIBRATIONS, FALLBACK, Calibration, calibration_for


def test_ramp_is_zero_below_low_one_above_high_linear_between() -> None:
    cal = Calibration(low=0.3, high=0.7, off_topic=0.1, misconception=0.8)
    credit = cal.credit(np.array([-1.0, 0.3, 0.4, 0.5, 0.7, 2.0]))
    assert credit.dtype == np.float32
    assert credit.tolist() == pytest.approx([0, 0, 0.25, 0.5, 1, 1])


def test_degenerate_ramp_is_a_step() -> None:
    cal = Calibration(low=0.5, high=0.5, off_topic=0, misconception=0.8)
    assert cal.credit(np.array([0.49, 0.51])).tolist() == [0.0, 1.0]


def test_evidence_adds_the_weighted_features() -> None:
    cal = Calibration(
        low=0.0,
        high=1.0,
        lexical=0.5,
        length=0.1,
        off_topic=0,
        misconception=0.8,
    )
    z = cal.evidence(np.array([0.2, 0.4]), np.array([1.0, 0.0]), length=-2)
    assert z.tolist() == pytest.approx([0.2 + 0.5 - 0.2, 0.4 - 0.2])
    assert cal.credit(np.array([0.2, 0.4]), np.array([1.0, 0.0]), -2).tolist() == (
        pytest.approx([0.5, 0.2])
    )
    # Without lexical features the similarity alone counts.
    assert cal.credit(np.array([0.4])).tolist() == pytest.approx([0.4])


def test_calibration_is_strict_and_frozen() -> None:
    with pytest.raises(ValidationError):
        Calibration(low=0, high=1, off_topic=0, misconception=0.5, surprise=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Calibration(low=0, high=1, off_topic=2, misconception=0.5)
    cal = Calibration(low=0, high=1, off_topic=0, misconception=0.5)
    with pytest.raises(ValidationError):
        cal.low = 0.5  # type: ignore[misc]


def test_lookup_by_embedder_name() -> None:
    assert calibration_for("use-multilingual") is CALIBRATIONS["use-multilingual"]
    assert calibration_for("hashing") is CALIBRATIONS["hashing"]
    assert calibration_for("hashing:256") is CALIBRATIONS["hashing"]
    minilm = "sentence-transformers:all-MiniLM-L6-v2"
    assert calibration_for(minilm) is CALIBRATIONS[minilm]
    assert calibration_for("sentence-transformers:some/other-model") is FALLBACK


@pytest.mark.parametrize("name", sorted(CALIBRATIONS))
def test_every_calibration_is_sane(name: str) -> None:
    cal = CALIBRATIONS[name]
    assert cal.high > cal.low
    assert 0 < cal.partial < cal.covered <= 1
    assert cal.lexical >= 0 and cal.length >= 0
    full = cal.credit(np.array([1.0]), np.array([1.0]), length=0.0)
    assert full.tolist() == [1.0]  # the key point itself, said in full, is covered
    nothing = cal.credit(np.array([0.0]), np.array([0.0]), length=-1.0)
    assert nothing[0] < cal.partial  # no evidence at all is "missed", whatever the floor
    more_words = cal.credit(np.array([0.3]), np.array([0.8]))
    fewer_words = cal.credit(np.array([0.3]), np.array([0.1]))
    assert more_words[0] >= fewer_words[0]
    shorter = cal.credit(np.array([0.3]), np.array([0.1]), length=-2.0)
    assert shorter[0] <= fewer_words[0]


def test_a_knee_bends_the_ramp() -> None:
    cal = Calibration(
        low=0.0, knee=0.7, knee_credit=0.75, high=1.3, off_topic=0.1, misconception=0.8
    )
    credit = cal.ramp(np.array([-0.5, 0.0, 0.35, 0.7, 1.0, 1.3, 2.0]))
    assert credit.tolist() == pytest.approx([0, 0, 0.375, 0.75, 0.875, 1, 1], abs=1e-6)


def test_the_scale_maps_a_share_of_credit_monotonically() -> None:
    cal = Calibration(
        low=0.0, high=1.0, off_topic=0.1, misconception=0.8,
        scale=((0.0, 0.0), (0.2, 0.3), (1.0, 1.0)),
    )  # fmt: skip
    assert [cal.scaled(x) for x in (0.0, 0.1, 0.2, 0.6, 1.0)] == pytest.approx(
        [0.0, 0.15, 0.3, 0.65, 1.0]
    )
    assert Calibration(low=0, high=1, off_topic=0, misconception=0.8).scaled(0.42) == 0.42


@pytest.mark.parametrize(
    "bad",
    [
        {"scale": ((0.0, 0.0), (0.5, 0.5))},  # does not reach (1, 1)
        {"scale": ((0.0, 0.0), (0.5, 0.6), (0.6, 0.6), (1.0, 1.0))},  # flat: ties answers
        {"knee": 1.5},  # outside low..high
        {"low": 0.8, "high": 0.2},
    ],
)
def test_a_scale_or_ramp_out_of_order_is_refused(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"low": 0.0, "high": 1.0, "off_topic": 0, "misconception": 0.8}
    with pytest.raises(ValidationError):
        Calibration(**{**fields, **bad})

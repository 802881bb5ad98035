"""Scoring: turns an answer and a rubric into a `Grade`.

`grader` runs the pipeline (units → vectors → key-point coverage, optional judge → combined
credit → feedback); `coverage` is the pure-numpy matching, `calibration` the per-embedder
ramps, `feedback` the words, `embedding/` the embedder backends and their vector cache.

May import: the foundation modules (errors, settings, grade, text, cache, files, ...), rubrics
and judge. Not runs, present
or cli.
"""

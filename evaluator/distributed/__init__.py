"""Distributed: grading on a Ray cluster. `dataset` grades a Ray Dataset with an actor pool
(`grade_dataset`, the same row code as `evaluator batch`); `engine` runs `evaluator batch
--engine ray`: files, folders of shards or URIs in, shards plus a manifest out.

Ray is an optional extra (`pip install 'answer-evaluator[ray]'`) and is imported only inside
functions here, never by another part of the package.

May import: the foundation modules, rubrics, judge, scoring, present and runs. Not cli.
tests/test_layers.py holds every part to its rule.
"""

from evaluator.distributed.dataset import grade_dataset

__all__ = ["grade_dataset"]

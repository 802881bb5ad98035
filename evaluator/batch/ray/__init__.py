"""Distributed: grading on a Ray cluster. `dataset` grades a Ray Dataset with an actor pool
(`grade_dataset`, the same row code as `evaluator batch`); `engine` runs `evaluator batch
--engine ray`: files, folders of shards or URIs in, shards plus a manifest out.

Ray is an optional extra (`pip install 'answer-evaluator[ray]'`) and is imported only inside
functions here, never by another part of the package.

It is part of batch: it shares the row code and the run manifest with the local engine.
"""

from evaluator.batch.ray.dataset import grade_dataset

__all__ = ["grade_dataset"]

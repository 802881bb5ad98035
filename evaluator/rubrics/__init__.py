"""Rubrics: the schema (`model`), files on disk, lookup by number / id / title, compiling
study documents into rubric files (`compile`), and checking them (`lint`).

May import: evaluator.errors, evaluator.text, evaluator.markdown. Nothing from scoring, judge,
runs, present or cli: a rubric knows nothing about how it is graded.
"""

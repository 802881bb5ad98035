"""Runs: grading many answers from files. `batch/` reads a CSV and writes graded CSV or JSONL,
resumably; `check/` grades Markdown study notes for the pre-commit hook; `agreement` compares
grades with human scores.

May import: everything below it (errors, settings, grade, text, cache, rubrics, scoring, judge)
and present for batch summaries. Not cli.
"""

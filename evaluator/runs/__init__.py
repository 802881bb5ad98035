"""Runs: grading many answers from files. `batch/` reads a CSV and writes graded CSV or JSONL,
resumably; `check/` grades Markdown study notes for the pre-commit hook; `practice/` schedules
questions to drill (fsrs) and keeps every attempt in a sqlite history; `agreement` compares
grades with human scores.

May import: everything below it (the foundation modules, rubrics, judge, scoring) and present
for batch summaries. Not cli. tests/test_layers.py holds every part to its rule.
"""

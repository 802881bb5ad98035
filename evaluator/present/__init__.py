"""Presenting grades to people: one grade in the terminal (`grade_text`), and a batch's
statistics, summary table and self-contained HTML report (`report`).

May import: evaluator.grade, text, settings. Nothing that grades.
"""

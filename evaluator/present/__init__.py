"""Presenting grades to people: one grade in the terminal (`grade_text`), a batch's statistics
and summary table (`summary`), and its self-contained HTML report (`html`).

May import: the foundation modules and rubrics. Nothing that grades.
"""

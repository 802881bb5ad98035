"""Presenting grades to people: one grade in the terminal (`grade_text`), a batch's statistics
and summary table (`summary`), and its self-contained HTML report (`html`); the practice screen
(`practice_text`) and practice progress as data (`progress`), in the terminal (`progress_text`)
and as a page (`progress_html`).

May import: the foundation modules and rubrics. Nothing that grades.
"""

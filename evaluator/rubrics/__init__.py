"""Rubrics: the schema (`model`), rubric files on disk (`io`), lookup by number / id / title
(`lookup`), the question-number grammar (`numbering`), rubrics made on the fly from a reference
answer (`adhoc`), compiling study documents into rubric files (`compile`: `studydoc` reads the
questions and sections, `keypoints` cuts answers into key points) with the reviewers' comments
kept over a rebuild (`comments`), and checking them (`lint`: each rubric's `checks`, and
`duplicates` across rubrics, measured by `similarity`).

May import: the foundation modules (errors, settings, result, text, markdown, kvstore, files,
injection). Nothing that grades or runs: a rubric knows nothing about how it is graded.
"""

"""Tools that measure grading quality: agreement with human graders (`agreement`, `evaluator
agreement`) and golden answers that must land in their bands (`golden`, `evaluator rubrics
test`).

May import: the foundation modules, rubrics, judge, scoring and present. Not cli, nor the other
parts that run many answers.
"""

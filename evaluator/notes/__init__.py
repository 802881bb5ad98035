"""`evaluator check`: find the answers in Markdown study notes (`notes`) and grade them, with a
grade cache keyed on everything that decides a grade (`check`)."""

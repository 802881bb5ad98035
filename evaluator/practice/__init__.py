"""`evaluator practice`: drilling questions with spaced repetition. `schedule` maps a score to an
fsrs rating and keeps each question's card (the fsrs package schedules; nothing here does);
`store` keeps every attempt in a sqlite history, one transaction each; `session` picks the next
question (due reviews first, then new ones); `progress` reads the history back as mastery per
question, the weakest key points and scores over time.
"""

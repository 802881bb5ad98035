"""Errors the tool reports to users as one line (the CLI turns them into exit codes)."""


class EvaluatorError(Exception):
    """Base for every expected failure: bad input, missing rubric, unreachable judge."""


class RubricError(EvaluatorError):
    """A rubric file is missing, unreadable or does not match the schema."""


class QuestionNotFound(EvaluatorError):
    """No rubric matches what the user asked for; the message lists close matches."""


class InputError(EvaluatorError):
    """A user-supplied file (answer, CSV, notes) cannot be used."""


class JudgeError(EvaluatorError):
    """The LLM judge could not produce a usable verdict (callers usually fall back)."""

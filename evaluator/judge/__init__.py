"""The optional LLM judge over any OpenAI-compatible endpoint: prompt templates (`prompts`),
the client with its response-format ladder (`client`), reply caching (`cache`), and the
defence against answers that address the grader (`injection`).

May import: evaluator.errors, settings, grade, text, cache, rubrics. Not scoring (which uses
the judge), runs, present or cli. `openai` loads only when a request is made.
"""

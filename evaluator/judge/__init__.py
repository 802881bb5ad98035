"""The optional LLM judge over any OpenAI-compatible endpoint.

`prompts` renders the versioned templates; `client` sends them (response-format ladder, retries,
error wording) and caches replies (`cache`); `reply` parses and validates what comes back;
`grounding` keeps a verdict only when its quote is really in the answer; `injection` detects
answers that address the grader.

May import: the foundation modules (errors, settings, grade, text, cache, ...) and rubrics. Not scoring (which uses
the judge), runs, present or cli. `openai` loads only when a request is made.
"""

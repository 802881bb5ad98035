"""The optional LLM judge over any OpenAI-compatible endpoint.

`prompts` renders the versioned templates; `client` sends them (response-format ladder, retries,
error wording, the first-token deadline) and caches replies (`replies`); `stream` reads a
streamed reply; `reply` parses and validates what comes back; `grounding` keeps a verdict only
when its quote is really in the answer; `breaker` stops calling a judge that keeps failing and
`notices` says so once; `order` and `recheck` shape the requests a batch sends.

May import: the foundation modules and rubrics. Not scoring (which uses the judge), nor what
runs many answers, present or cli. `openai` loads only when a request is made.
"""

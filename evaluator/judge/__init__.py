"""The optional LLM judge over any OpenAI-compatible endpoint.

`prompts` renders the versioned templates; `client` asks (`Judge`: re-ask on an unusable reply,
a compact fallback on a runaway one, the circuit breaker's bookkeeping) and caches replies
(`replies`); `transport` sends one request (response-format ladder, retries, the first-token
deadline), `stream` reads its streamed reply and `wording` says what went wrong in one line,
never with a credential; `reply` parses and validates what comes back; `outcome` turns it into
a `JudgeOutcome`, where `grounding` keeps a verdict only when its quote is really in the answer;
`breaker` stops calling a judge that keeps failing and `notices` says so once; `order` and
`recheck` shape the requests a batch sends.

May import: the foundation modules and rubrics. Not scoring (which uses the judge), nor what
runs many answers, present or cli. `openai` loads only when a request is made.
"""

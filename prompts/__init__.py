"""Judge prompt templates, shipped as package data (evaluator.bundled_prompts)."""

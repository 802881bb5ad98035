"""Judge prompt templates: plain text files with a version line, loaded and rendered here.

Each template starts with `# version: <name>`; that line is stripped before use and the
version goes into cache keys and into every Grade the judge scores. Placeholders use
`string.Template` syntax (`${answer}`), so rubric text with braces needs no escaping.
`render_messages` fills them from a rubric and an answer (whitespace normalised, clipped, its
headings, role markers and delimiter neutralised).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from evaluator.errors import EvaluatorError
from evaluator.injection import neutralise_markup, normalise_whitespace

if TYPE_CHECKING:
    from evaluator.rubrics.model import Rubric

SYSTEM_FILE = "judge_system.txt"
# The system template per judge_style; they differ only in what the reply must write.
SYSTEM_FILES = {
    "full": SYSTEM_FILE,
    "rationale": "judge_system_rationale.txt",
    "compact": "judge_system_compact.txt",
}
USER_FILE = "judge_user.txt"
_VERSION_LINE = re.compile(r"#\s*version:\s*(\S+)\s*")

# Placeholders the judge fills in; a template using any other name is rejected at load time.
USER_FIELDS = frozenset(
    {
        "question",
        "reference_answer",
        "key_points",
        "key_point_ids",
        "misconceptions",
        "answer",
        "feedback_language",
        "language_instruction",
    }
)

# The real local judge has a 4096-token context: long texts are cut, and the prompt says so
# (about 1 token per Chinese character).
MAX_ANSWER_CHARS = 2000
MAX_REFERENCE_CHARS = 1200
FEEDBACK_LANGUAGE = {"zh": "Simplified Chinese (简体中文)", "en": "English"}
# Said in the feedback language itself: a small model follows that far more often. Per style:
# the compact styles leave the free-text fields empty, so they only ask for verbatim quotes.
LANGUAGE_INSTRUCTION = {
    "full": {
        "zh": (
            "请用简体中文写 reasoning、reason 和 comment；"
            "evidence 必须从学生答案原文中逐字复制（不超过20个字）；"
            "id 和 verdict 保持英文。只输出 JSON。"
        ),
        "en": "Write reasoning, reason and comment in English. Reply with the JSON only.",
    },
    "rationale": {
        "zh": "reasoning 用简体中文写一句话；evidence 必须从学生答案原文中逐字复制（不超过20个字）；"
        "id 和 verdict 保持英文。只输出 JSON。",
        "en": "Write the one-sentence reasoning in English. Reply with the JSON only.",
    },
    "compact": {
        "zh": "evidence 必须从学生答案原文中逐字复制（不超过20个字）；id 和 verdict 保持英文。"
        "只输出 JSON。",
        "en": "Reply with the JSON only.",
    },
}


class PromptError(EvaluatorError):
    """A prompt template file is missing or malformed."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    text: str

    def render(self, **values: str) -> str:
        return Template(self.text).substitute(values)

    @property
    def fields(self) -> set[str]:
        return set(Template(self.text).get_identifiers())


@dataclass(frozen=True)
class JudgePrompts:
    system: PromptTemplate
    user: PromptTemplate
    style: str = "full"  # a key of SYSTEM_FILES

    @property
    def version(self) -> str:
        if self.system.version == self.user.version:
            return self.system.version
        return f"{self.system.version}+{self.user.version}"

    @property
    def digest(self) -> str:
        """Hash of both texts, so an edit without a version bump still misses the cache."""
        payload = f"{self.system.text}\0{self.user.text}".encode()
        return hashlib.sha256(payload).hexdigest()[:16]


def parse_template(name: str, raw: str) -> PromptTemplate:
    first, _, rest = raw.partition("\n")
    match = _VERSION_LINE.fullmatch(first.strip())
    if not match:
        raise PromptError(f"{name}: first line must be '# version: <name>'")
    text = rest.strip("\n") + "\n"
    try:
        Template(text).substitute({k: "" for k in USER_FIELDS})
    except (KeyError, ValueError) as exc:
        raise PromptError(f"{name}: bad placeholder {exc} (known: {sorted(USER_FIELDS)})") from None
    return PromptTemplate(name=name, version=match.group(1), text=text)


def _read(directory: Path | None, filename: str) -> tuple[str, str]:
    if directory is None:
        resource = files("evaluator.bundled_prompts").joinpath(filename)
        where = f"bundled prompt {filename}"
        try:
            return where, resource.read_text(encoding="utf-8")
        except OSError as exc:
            raise PromptError(f"{where}: cannot read ({exc})") from None
    path = directory / filename
    try:
        return str(path), path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(f"{path}: cannot read prompt template ({exc.strerror or exc})") from None


def load_judge_prompts(directory: str | Path | None = None, style: str = "full") -> JudgePrompts:
    """The bundled templates, or the style's system template + `judge_user.txt` from
    `directory`."""
    if style not in SYSTEM_FILES:
        raise PromptError(f"unknown judge style '{style}' (one of {', '.join(SYSTEM_FILES)})")
    folder = Path(directory) if directory is not None else None
    system = parse_template(*_read(folder, SYSTEM_FILES[style]))
    user = parse_template(*_read(folder, USER_FILE))
    if "answer" not in user.fields:
        raise PromptError(f"{user.name}: the user template must contain ${{answer}}")
    return JudgePrompts(system=system, user=user, style=style)


def render_messages(prompts: JudgePrompts, rubric: Rubric, answer: str) -> list[dict[str, str]]:
    """The chat messages that ask the judge about `answer`: system, then user."""
    key_points = "\n".join(f"- {k.id}: {' '.join(k.text.split())}" for k in rubric.key_points)
    misconceptions = "\n".join(
        f"- {m.id}: {' '.join(m.text.split())}" for m in rubric.misconceptions
    )
    user = prompts.user.render(
        question=rubric.question.strip(),
        reference_answer=_clip(rubric.reference_answer, MAX_REFERENCE_CHARS, "shortened"),
        key_points=key_points,
        key_point_ids=", ".join(k.id for k in rubric.key_points),
        misconceptions=misconceptions or "(none)",
        answer=neutralise_markup(
            _clip(normalise_whitespace(answer), MAX_ANSWER_CHARS, "answer truncated")
        ),
        feedback_language=FEEDBACK_LANGUAGE.get(rubric.language, "English"),
        language_instruction=_language_instruction(prompts.style, rubric.language),
    )
    return [
        {"role": "system", "content": prompts.system.render()},
        {"role": "user", "content": user},
    ]


def _language_instruction(style: str, language: str) -> str:
    by_language = LANGUAGE_INSTRUCTION.get(style, LANGUAGE_INSTRUCTION["full"])
    return by_language.get(language, by_language["en"])


def _clip(text: str, limit: int, note: str) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + f"\n[... {note} ...]"

"""End to end: a notes repository uses this project as a pre-commit hook source.

Each test makes a temporary git repository whose `.pre-commit-config.yaml` points at this
project's git repository (its committed HEAD), exactly as a notes repository points at the
published one; `pre-commit install` then guards real `git commit`s. pre-commit clones the
project and pip-installs it (non-editable) into its own environment, the same path that
`pre-commit try-repo` takes: it works offline here because pip's configured index serves the
dependencies. The environment is built once per session (about a minute) and shared.

Note: the hook runs the project's last *commit*, not uncommitted edits in the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator.settings import ENV_VARS
from tests.helpers import GOOD_BN, REPO, SEED_SUBSET_RUBRICS, WEAK_BN, require, write_rubrics

PROJECT = REPO
EXAMPLES = PROJECT / "examples" / "notes"
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


@pytest.fixture(autouse=True)
def _needs_git_and_pre_commit() -> None:
    require(
        shutil.which("git") is not None and PRE_COMMIT.exists() and (PROJECT / ".git").exists(),
        "needs git, pre-commit in the venv, and this project as a git repository",
    )


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="session")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for git and pre-commit: isolated from user config, one shared hook store."""
    home = tmp_path_factory.mktemp("precommit-home")
    gitconfig = home / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Notes Author\n\temail = notes@example.com\n")
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS and not k.startswith("GIT_")}
    env.update(
        {
            "PRE_COMMIT_HOME": str(home / "store"),
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "HF_HUB_OFFLINE": "1",
            "EVALUATOR_CACHE_DIR": str(home / "evaluator-cache"),
        }
    )
    return env


def make_notes_repo(
    root: Path, env: dict[str, str], *, rubrics: bool = True, embedder: str | None = "hashing"
) -> Path:
    """A notes repository with the hook installed and its setup committed (no notes yet)."""
    root.mkdir(parents=True)
    _git("init", "-q", cwd=root)
    rev = _git("rev-parse", "HEAD", cwd=PROJECT)
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {PROJECT}\n    rev: {rev}\n    hooks:\n      - id: evaluator-check\n",
        encoding="utf-8",
    )
    config = "[tool.evaluator]\nmin_score = 60\n"
    if embedder:
        config += f'embedder = "{embedder}"\n'
    (root / "pyproject.toml").write_text(config, encoding="utf-8")
    if rubrics:
        write_rubrics(root / "rubrics", SEED_SUBSET_RUBRICS)
    subprocess.run([str(PRE_COMMIT), "install"], cwd=root, env=env, check=True, capture_output=True)
    _git("add", "-A", cwd=root)
    setup = commit(root, env, "notes setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return root


def commit(root: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-m", message],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # the first commit builds the hook environment
        check=False,
    )


def commits(root: Path) -> int:
    return int(_git("rev-list", "--count", "HEAD", cwd=root))


def add_note(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text, encoding="utf-8")
    _git("add", name, cwd=root)


def refused_then_accepted(root: Path, env: dict[str, str], weak: str, good: str) -> str:
    """Commit a weak note (must be refused), then a good one (must commit). The refusal output."""
    before = commits(root)
    add_note(root, "weak.md", weak)
    refused = commit(root, env, "weak note")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert commits(root) == before
    assert "evaluator check" in output and "Failed" in output
    assert "weak.md" in output and "below 60" in output and "missed:" in output

    _git("rm", "-q", "--cached", "weak.md", cwd=root)
    (root / "weak.md").unlink()
    add_note(root, "good.md", good)
    accepted = commit(root, env, "good note")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert commits(root) == before + 1
    assert "Passed" in accepted.stdout + accepted.stderr
    return output


def test_weak_note_is_refused_and_good_note_commits(
    tmp_path: Path, hook_env: dict[str, str]
) -> None:
    root = make_notes_repo(tmp_path / "notes", hook_env)
    output = refused_then_accepted(root, hook_env, WEAK_BN, GOOD_BN)
    assert "Q7 什么是批量归一化" in output

    # Files that are not notes are not the hook's business; notes without answers are skipped.
    (root / "todo.txt").write_text("复习第三章\n", encoding="utf-8")
    add_note(root, "todo.md", "# 待办\n\n- 复习第三章\n")
    _git("add", "todo.txt", cwd=root)
    skipped = commit(root, hook_env, "todo")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr


def test_hook_uses_the_bundled_rubrics_without_a_rubrics_folder(
    tmp_path: Path, hook_env: dict[str, str]
) -> None:
    bundled = _git("ls-tree", "--name-only", "HEAD", "rubrics/", cwd=PROJECT)
    if ".yaml" not in bundled:
        pytest.skip("this project's HEAD has no rubric files to bundle yet")
    root = make_notes_repo(tmp_path / "notes", hook_env, rubrics=False)
    weak = (EXAMPLES / "weak.md").read_text(encoding="utf-8")
    good = (EXAMPLES / "good.md").read_text(encoding="utf-8")
    output = refused_then_accepted(root, hook_env, weak, good)
    assert "Q8 如何处理模型过拟合" in output


@pytest.mark.real_model
def test_real_default_embedder(tmp_path: Path, hook_env: dict[str, str]) -> None:
    root = make_notes_repo(tmp_path / "notes", hook_env, embedder=None)
    output = refused_then_accepted(root, hook_env, WEAK_BN, GOOD_BN)
    assert "Q7 什么是批量归一化" in output

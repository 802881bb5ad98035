# Two commands a new user needs (README): `make demo` and `make test`. Contributors' quick loop
# before a commit: `make check`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Where the judge server build and model are cached (rebuilt only when missing).
JUDGE_HOME ?= $(HOME)/.cache/answer-evaluator/judge-server
export JUDGE_HOME

.PHONY: demo test check lint format judge-server judge-server-build browser tmux clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Core install: no torch; the bundled embedder is numpy only.
$(VENV)/.installed-core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Dev install: torch's CPU build first (any other pin pulls a multi-GB CUDA build here),
# then the sentence-transformers and ray extras and the test tools.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,sentence-transformers,ray]'
	touch $@ $(VENV)/.installed-core

# The main job on the bundled defaults: rubrics, one graded answer, a graded CSV with its
# report, and the study-notes check (whose weak example note is meant to fail the bar).
DEMO_OUT := demo-out
demo: $(VENV)/.installed-core
	$(BIN)/evaluator rubrics lint
	$(BIN)/evaluator list
	$(BIN)/evaluator grade 11 --answer "模型蒸馏用大的教师模型的软标签训练一个小的学生模型，把知识迁移过去；学生模型参数少、推理快，便于部署，性能接近教师模型。"
	mkdir -p $(DEMO_OUT)
	$(BIN)/evaluator batch examples/answers.csv -o $(DEMO_OUT)/answers-graded.csv --report $(DEMO_OUT)/report.html --force
	@# The check refuses two answers on purpose (weak.md, and Q7 in several.md): exit 1 with
	@# its "below the minimum score" summary is the expected result, anything else is not.
	@echo "$(BIN)/evaluator check examples/notes/"
	@$(BIN)/evaluator check examples/notes/ > $(DEMO_OUT)/check.txt; status=$$?; \
	  cat $(DEMO_OUT)/check.txt; \
	  if [ $$status -ne 1 ] || ! grep -q "below the minimum score" $(DEMO_OUT)/check.txt; then \
	    echo "demo: evaluator check ended unexpectedly (exit $$status)"; exit 1; fi
	@echo "As expected: the notes check refused the weak answers above, as a pre-commit hook would."
	@echo "Graded CSV: $(DEMO_OUT)/answers-graded.csv   Report: $(DEMO_OUT)/report.html"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check evaluator tests benchmarks scripts/judge-server
	$(BIN)/ruff format --check evaluator tests benchmarks scripts/judge-server
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff format evaluator tests benchmarks scripts/judge-server
	$(BIN)/ruff check --fix evaluator tests benchmarks scripts/judge-server

# Builds llama.cpp's llama-server and assembles the judge model (cached in JUDGE_HOME).
judge-server-build: $(VENV)/.installed-dev
	$(BIN)/python scripts/judge-server build

# Starts a real local OpenAI-compatible judge on 127.0.0.1 (prints its URL).
judge-server: $(VENV)/.installed-dev
	$(BIN)/python scripts/judge-server serve

# Debian's chromium and a CJK font, for the HTML report test (without the font the report's
# Chinese labels render as empty boxes).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null; }

# tmux, for the practice session test that types into a real terminal.
tmux:
	@command -v tmux >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }

test: lint judge-server-build browser tmux
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# The quick loop before a commit: lint, then every test that needs no real component. Left out
# by marker: real embedding models, the judge server, the browser, the Ray cluster. Left out by
# name: the practice session typed into tmux, the pre-commit end-to-end tests (they pip-install
# the project into a fresh hook environment, about a minute, through pip's index), and the
# check of the cached judge build (it needs `make judge-server-build`). `make test` runs them all.
CHECK_MARKERS := not real_model and not judge_server and not browser and not ray_cluster
CHECK_SKIP := not test_practice_terminal and not test_precommit_e2e and not test_the_cached_build_was_compiled_without_native_flags
check: lint
	$(BIN)/ruff check scripts/cli-docs
	$(BIN)/ruff format --check scripts/cli-docs
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "$(CHECK_MARKERS)" -k "$(CHECK_SKIP)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

"""The local judge's build recipe: portable (never -march=native), recorded next to the binary,
smoke-tested per machine, and crashes decoded into words. No model or compiler needed, except
the last test, which reads the real cached build."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import load_judge_server_script, require

NATIVE = ("-march=native", "-mtune=native", "-mcpu=native", "GGML_NATIVE=ON")


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_judge_server_script()


def test_cmake_flags_are_portable(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(script, "is_x86_64", lambda: True)
    flags = script.cmake_flags()
    assert "-DGGML_NATIVE=OFF" in flags
    assert not [f for f in flags if any(n in f for n in NATIVE)]
    for needed in ("-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_BMI2=ON"):
        assert needed in flags
    # Nothing newer than the AVX2 baseline: AVX-512 and AMX SIGILL on most CPUs.
    assert "-DGGML_AVX512=OFF" in flags and "-DGGML_AMX_TILE=OFF" in flags
    assert not [f for f in flags if ("AVX512" in f or "AMX" in f) and f.endswith("=ON")]


def test_configure_and_server_commands_have_no_native_flags(
    script: ModuleType, tmp_path: Path
) -> None:
    layout = script.Layout(tmp_path)
    commands = [
        script.configure_command(layout),
        script.server_command(layout, "127.0.0.1", 8080),
    ]
    for command in commands:
        assert not [arg for arg in command if any(n in arg for n in NATIVE)], command


def test_other_architectures_get_no_x86_flags(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "is_x86_64", lambda: False)
    flags = script.cmake_flags()
    assert "-DGGML_NATIVE=OFF" in flags
    assert "-DGGML_AVX2=ON" not in flags


def test_a_cpu_without_avx2_is_refused_in_words(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "is_x86_64", lambda: True)
    monkeypatch.setattr(script, "cpu_flags", lambda: {"sse4_2", "avx", "fma", "f16c"})
    with pytest.raises(script.BuildError, match=r"lacks avx2, bmi2: .*x86-64 CPU with AVX2"):
        script.check_cpu()
    monkeypatch.setattr(script, "cpu_flags", lambda: {"avx", "avx2", "fma", "f16c", "bmi2"})
    script.check_cpu()


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (-signal.SIGILL, "SIGILL: the binary uses CPU instructions this CPU does not run"),
        (128 + signal.SIGILL, "SIGILL: the binary uses CPU instructions this CPU does not run"),
        (-signal.SIGKILL, "SIGKILL: killed from outside, most often by the kernel's out-of-memory"),
        (-signal.SIGSEGV, "SIGSEGV: llama-server crashed on a bad memory access"),
        (1, "exit 1"),
    ],
)
def test_exit_codes_are_decoded(script: ModuleType, code: int, words: str) -> None:
    assert words in script.describe_exit(code)


def fake_binary(layout: object, body: str) -> None:
    binary: Path = layout.binary  # type: ignore[attr-defined]  # the script's Layout
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text(f"#!/bin/sh\n{body}\n")
    binary.chmod(0o755)


def test_a_binary_built_by_another_recipe_is_not_reused(script: ModuleType, tmp_path: Path) -> None:
    layout = script.Layout(tmp_path)
    fake_binary(layout, "exit 0")
    # Today's native builds carry no recipe at all.
    assert not script.binary_ready(layout)
    assert "another recipe" in script.build_status(tmp_path)[1]
    stale = {**script.build_recipe(), "cmake_flags": ["-DGGML_NATIVE=ON"]}
    layout.recipe_stamp.write_text(json.dumps(stale))
    assert not script.binary_ready(layout)
    layout.recipe_stamp.write_text(json.dumps(script.build_recipe()))
    assert script.binary_ready(layout)


def test_a_build_is_smoke_tested_once_per_machine(script: ModuleType, tmp_path: Path) -> None:
    layout = script.Layout(tmp_path)
    fake_binary(layout, "exit 0")
    layout.recipe_stamp.write_text(json.dumps(script.build_recipe()))
    layout.smoke_stamp.write_text("another-machine\n")
    assert not script.smoke_tested(layout)
    layout.smoke_stamp.write_text(f"another-machine\n{script.machine_key()}\n")
    assert script.smoke_tested(layout)


def test_smoke_test_stops_on_a_binary_killed_by_sigill(script: ModuleType, tmp_path: Path) -> None:
    layout = script.Layout(tmp_path)
    fake_binary(layout, "echo loading model; kill -ILL $$")
    with pytest.raises(script.BuildError) as failure:
        script.smoke_test(layout)
    message = str(failure.value)
    assert "killed by SIGILL: the binary uses CPU instructions this CPU does not run" in message
    assert "loading model" in message  # the log's last lines come along
    assert not script.smoke_tested(layout)


def test_the_cached_build_was_compiled_without_native_flags(script: ModuleType) -> None:
    """The real build `make test` made: its cmake cache and every compile line."""
    layout = script.Layout(script.judge_home())
    cache = layout.cmake_build / "CMakeCache.txt"
    commands = layout.cmake_build / "compile_commands.json"
    require(
        cache.is_file() and commands.is_file(),
        f"no llama.cpp build under {layout.cmake_build}: run `make judge-server-build`",
    )
    assert "GGML_NATIVE:BOOL=OFF" in cache.read_text()
    lines = [entry["command"] for entry in json.loads(commands.read_text())]
    assert lines
    assert not [c for c in lines if any(n in c for n in NATIVE)]
    assert any("-mavx2" in c for c in lines) or os.uname().machine != "x86_64"
    assert not [c for c in lines if "-mavx512" in c or "-mamx" in c]

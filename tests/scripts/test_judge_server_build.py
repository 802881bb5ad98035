"""The local judge's build recipe: portable (never -march=native; on x86-64, kernels for several
CPU generations chosen at start-up), recorded next to the binary, smoke-tested per machine, and
crashes decoded into words. No model or compiler needed, except the last test, which reads the
real cached build."""

from __future__ import annotations

import json
import os
import re
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
    # Runtime dispatch: no instruction set is switched on for the whole build; each kernel
    # variant carries its own, and only a CPU that runs it loads it.
    for needed in ("-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON", "-DBUILD_SHARED_LIBS=ON"):
        assert needed in flags
    assert "-DCMAKE_BUILD_RPATH_USE_ORIGIN=ON" in flags  # bin/ can move out of the build dir
    assert not [f for f in flags if f.startswith(("-DGGML_AVX", "-DGGML_AMX", "-DGGML_FMA"))]


def test_the_variants_start_from_plain_x86_64(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "is_x86_64", lambda: True)
    targets = script.build_targets()
    assert targets[0] == "llama-server"
    assert "ggml-cpu-x64" in targets  # any x86-64 CPU has a kernel it can run
    assert "ggml-cpu-haswell" in targets  # the AVX2 machines most users have
    assert "ggml-cpu-sapphirerapids" in targets  # the AMX Xeons the native build crashed on


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
    assert "-DGGML_CPU_ALL_VARIANTS=ON" not in flags
    assert script.build_targets() == ["llama-server"]


def test_a_cpu_without_avx2_is_told_it_will_be_slow(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(script, "is_x86_64", lambda: True)
    monkeypatch.setattr(script, "cpu_flags", lambda: {"sse4_2", "avx", "fma", "f16c"})
    script.check_cpu()  # runs, on the plain x86-64 kernels
    assert "this CPU lacks AVX2" in capsys.readouterr().err
    monkeypatch.setattr(script, "cpu_flags", lambda: {"avx", "avx2", "fma", "f16c", "bmi2"})
    script.check_cpu()
    assert capsys.readouterr().err == ""


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
    """The real build `make test` made: its cmake cache, every compile line, what was installed."""
    layout = script.Layout(script.judge_home())
    cache = layout.cmake_build / "CMakeCache.txt"
    commands = layout.cmake_build / "compile_commands.json"
    require(
        cache.is_file() and commands.is_file(),
        f"no llama.cpp build under {layout.cmake_build}: run `make judge-server-build`",
    )
    assert "GGML_NATIVE:BOOL=OFF" in cache.read_text()
    entries = json.loads(commands.read_text())
    assert entries
    assert not [e["file"] for e in entries if any(n in e["command"] for n in NATIVE)]
    if os.uname().machine != "x86_64":
        return
    isa = re.compile(r"\s-m(?:avx|fma|f16c|bmi2|amx|sse4)")
    # Instruction-set flags only ever on a kernel variant's own objects.
    variant_dir = re.compile(r"/ggml-cpu-[a-z0-9_]+\.dir/")
    stray = [e["command"] for e in entries if isa.search(e["command"])]
    assert stray and all(variant_dir.search(c) for c in stray), stray[:2]
    x64 = [e for e in entries if "/ggml-cpu-x64.dir/" in e["command"]]
    assert x64 and not [e for e in x64 if isa.search(e["command"])]
    installed = {p.name for p in layout.binary.parent.glob("libggml-cpu-*.so")}
    assert installed == {f"libggml-cpu-{v}.so" for v in script.X86_VARIANTS}


GGML_LISTS = """\
if (GGML_CPU_ALL_VARIANTS)
    if (GGML_SYSTEM_ARCH STREQUAL "x86")
        ggml_add_cpu_backend_variant(x64)
        ggml_add_cpu_backend_variant(sse42              SSE42)
        ggml_add_cpu_backend_variant(haswell            SSE42 AVX F16C FMA AVX2 BMI2)
        ggml_add_cpu_backend_variant(skylakex           SSE42 AVX F16C FMA AVX2 BMI2 AVX512)
        ggml_add_cpu_backend_variant(icelake            SSE42 AVX512 AVX512_VBMI AVX512_VNNI)
        if (NOT MSVC)
            ggml_add_cpu_backend_variant(zen4           SSE42 AVX512 AVX512_BF16)
        endif()
        ggml_add_cpu_backend_variant(alderlake          SSE42 AVX2 AVX_VNNI)
        if (NOT MSVC)
            ggml_add_cpu_backend_variant(sapphirerapids SSE42 AVX512 AMX_TILE AMX_INT8)
        endif()
    elseif(GGML_SYSTEM_ARCH STREQUAL "ARM")
        ggml_add_cpu_backend_variant(armv8.0_1)
    endif()
endif()
"""


def test_only_the_chosen_kernel_variants_are_configured(script: ModuleType, tmp_path: Path) -> None:
    lists = tmp_path / "ggml" / "src" / "CMakeLists.txt"
    lists.parent.mkdir(parents=True)
    lists.write_text(GGML_LISTS)
    for _ in range(2):  # idempotent: always rewritten from the pristine copy
        script.select_variants(tmp_path)
    active = re.findall(r"^\s*ggml_add_cpu_backend_variant\((\w+)", lists.read_text(), re.M)
    assert set(active) == {*script.X86_VARIANTS, "armv8"}  # ARM's list is left alone
    assert "# left out by scripts/judge-server: ggml_add_cpu_backend_variant(sse42" in (
        lists.read_text()
    )
    assert lists.with_name("CMakeLists.txt.orig").read_text() == GGML_LISTS


def test_a_source_without_our_variants_stops_the_build(script: ModuleType, tmp_path: Path) -> None:
    lists = tmp_path / "ggml" / "src" / "CMakeLists.txt"
    lists.parent.mkdir(parents=True)
    lists.write_text(GGML_LISTS.replace("zen4 ", "zen5 "))
    with pytest.raises(script.BuildError, match="no longer offers the x86 variants zen4"):
        script.select_variants(tmp_path)

"""The local judge's build recipe: portable (never -march=native; on x86-64, kernels for several
CPU generations chosen at start-up), recorded next to the binary, smoke-tested per machine, and
crashes decoded into words. No model or compiler needed, except the last test, which reads the
real cached build."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

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
    layout.recipe_stamp.write_text(json.dumps(script.installed_recipe()))
    assert script.binary_ready(layout)


def test_a_kernel_choice_is_made_once_per_machine(script: ModuleType, tmp_path: Path) -> None:
    layout = script.Layout(tmp_path)
    fake_binary(layout, "exit 0")
    layout.recipe_stamp.write_text(json.dumps(script.installed_recipe()))
    layout.variants_dir.mkdir()
    script.variant_path(layout, "zen4").write_bytes(b"")
    other = script.VariantChoice("zen4", {}, None, None, "2026-12-04T00:00:00Z")
    layout.choices_dir.mkdir()
    layout.choice_file("another-machine").write_text(other.to_json())
    assert not script.smoke_tested(layout)
    layout.choice_file().write_text(other.to_json())
    assert script.smoke_tested(layout)
    # A choice naming a variant this build no longer has is made again.
    script.variant_path(layout, "zen4").unlink()
    assert not script.smoke_tested(layout)


def test_variants_are_tried_fastest_first(script: ModuleType, tmp_path: Path) -> None:
    layout = script.Layout(tmp_path)
    layout.variants_dir.mkdir(parents=True)
    for name in ("x64", "haswell", "zen4", "sapphirerapids", "icelake", "skylakex", "other"):
        script.variant_path(layout, name).write_bytes(b"")
    assert script.variant_candidates(layout) == [
        "sapphirerapids", "zen4", "icelake", "skylakex", "haswell", "x64", "other"
    ]  # fmt: skip


# A stand-in for llama-server: loads the kernel variant named by GGML_BACKEND_PATH the way
# llama.cpp does (dlopen, so a crashing constructor really kills it), declines the ones named
# in DECLINE as llama.cpp's CPU check would, then serves /health and one chat completion.
FAKE_SERVER = r"""#!{python}
import ctypes, json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
path = os.environ.get("GGML_BACKEND_PATH", "")
if any(name in os.path.basename(path) for name in os.environ.get("DECLINE", "").split()):
    print(f"load_backend: backend {{path}} is not supported on this system", flush=True)
    sys.exit(1)
ctypes.CDLL(path)
print(f"load_backend: loaded CPU backend from {{path}}", flush=True)
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self): self._send({{"status": "ok"}})
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send({{"choices": [{{"message": {{"content": "one two"}}}}],
                     "timings": {{"prompt_per_second": 50.0, "predicted_per_second": 9.0}}}})
HTTPServer(("127.0.0.1", int(sys.argv[sys.argv.index("--port") + 1])), Handler).serve_forever()
"""

# What a kernel variant built for instructions the CPU will not run does: die of SIGILL.
CRASHING_VARIANT = """\
#include <signal.h>
__attribute__((constructor)) static void crash_on_load(void) { raise(SIGILL); }
"""
WORKING_VARIANT = "int ggml_backend_score(void) { return 1; }\n"


def build_variant(path: Path, crashes: bool) -> None:
    """A real shared library compiled here: one that dies of SIGILL when loaded, or one that
    loads."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    require(compiler is not None, "no C compiler to build the fake kernel variants")
    assert compiler is not None
    source = path.with_suffix(".c")
    source.write_text(CRASHING_VARIANT if crashes else WORKING_VARIANT)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(path), str(source)], check=True)
    source.unlink()


def fake_build(script: ModuleType, home: Path, crashing: set[str]) -> Any:
    """A build whose server is FAKE_SERVER and whose variants are real little libraries."""
    layout = script.Layout(home)
    fake_binary(layout, "")
    layout.binary.write_text(FAKE_SERVER.format(python=sys.executable))
    layout.recipe_stamp.write_text(json.dumps(script.installed_recipe()))
    layout.variants_dir.mkdir()
    for name in script.X86_VARIANTS:
        build_variant(script.variant_path(layout, name), crashes=name in crashing)
    return layout


@pytest.fixture
def x86_script(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(script, "is_x86_64", lambda: True)
    return script


def test_a_variant_that_crashes_or_is_declined_is_refused_and_the_next_runs(
    x86_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = x86_script
    layout = fake_build(script, tmp_path, crashing={"sapphirerapids"})
    monkeypatch.setenv("DECLINE", "zen4")
    choice = script.choose_variant(layout)
    assert choice.variant == "icelake"
    assert list(choice.refused) == ["sapphirerapids", "zen4"]
    assert "killed by SIGILL" in choice.refused["sapphirerapids"]
    assert "lacks its instructions" in choice.refused["zen4"]
    assert (choice.prompt_tokens_per_s, choice.generation_tokens_per_s) == (50.0, 9.0)
    # Recorded for this machine only; the shared build keeps every variant.
    assert script.read_choice(layout) == choice
    assert script.variant_path(layout, "sapphirerapids").is_file()
    assert [p.name for p in layout.choices_dir.iterdir()] == [f"{script.machine_key()}.json"]
    lines = script.describe_choice(choice)
    assert lines[0].startswith("kernel variant on this machine: icelake")
    assert any(line.startswith("refused here: sapphirerapids: killed by SIGILL") for line in lines)


def test_when_no_variant_runs_build_says_so_in_one_line_and_fails(
    x86_script: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    script = x86_script
    layout = fake_build(script, tmp_path, crashing=set(script.X86_VARIANTS))
    monkeypatch.setenv("JUDGE_HOME", str(tmp_path))
    monkeypatch.setattr(script, "assemble_model", lambda layout: None)
    assert script.main(["build"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "no kernel variant of llama-server runs on this CPU" in errors[0]
    assert "--no-judge" in errors[0]
    assert not script.smoke_tested(layout)
    assert script.main(["status"]) == 1


def test_a_failure_that_is_not_the_cpu_stops_the_build(
    x86_script: ModuleType, tmp_path: Path
) -> None:
    script = x86_script
    layout = fake_build(script, tmp_path, crashing=set())
    fake_binary(layout, "echo 'error: failed to load model'; exit 1")
    with pytest.raises(script.BuildError, match="exit 1"):
        script.choose_variant(layout)  # not retried on the next variant: not the kernels' fault


def test_a_static_build_killed_by_sigill_is_refused_in_words(
    script: ModuleType, tmp_path: Path
) -> None:
    layout = script.Layout(tmp_path)
    fake_binary(layout, "echo loading model; kill -ILL $$")
    with pytest.raises(script.VariantRefused) as failure:
        script.smoke_test(layout, None)
    assert "killed by SIGILL: the binary uses CPU instructions this CPU does not run" in str(
        failure.value
    )
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
    installed = {p.name for p in layout.variants_dir.glob("libggml-cpu-*.so")}
    assert installed == {f"libggml-cpu-{v}.so" for v in script.X86_VARIANTS}
    # None beside the binary: llama.cpp loads each one there, a crashing one with the rest.
    assert not list(layout.binary.parent.glob("libggml-cpu-*.so"))


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


def copy_of_the_real_build(script: ModuleType, home: Path) -> Any:
    """$JUDGE_HOME's real build and model, linked into a private home whose kernel variants and
    machine choices a test may change without touching the shared cache."""
    real = script.Layout(script.judge_home())
    ready, reason = script.build_status(real.home)
    require(ready, f"{reason}: run `make judge-server-build` first")
    layout = script.Layout(home)
    layout.binary.parent.mkdir(parents=True)
    for item in real.binary.parent.iterdir():
        if item.is_file() and not item.is_symlink():
            shutil.copy2(item, layout.binary.parent / item.name)  # its run path is $ORIGIN
        elif item.is_symlink():
            (layout.binary.parent / item.name).symlink_to(os.readlink(item))
    shutil.copytree(real.variants_dir, layout.variants_dir)
    layout.model.parent.mkdir(parents=True)
    for item in real.model.parent.iterdir():
        (layout.model.parent / item.name).symlink_to(item)
    return layout


@pytest.mark.judge_server
def test_the_real_server_falls_back_from_variants_that_crash_and_answers(
    script: ModuleType, tmp_path: Path
) -> None:
    """The AMX machine, without one: the two fastest variants replaced by libraries that die of
    SIGILL when loaded. The build must refuse both, here only, and serve from the next."""
    layout = copy_of_the_real_build(script, tmp_path)
    require(script.is_x86_64(), "kernel variants exist on x86-64 only")
    ranked = script.variant_candidates(layout)
    for name in ranked[:2]:
        build_variant(script.variant_path(layout, name), crashes=True)
    script.build(home=tmp_path)
    choice = script.read_choice(layout)
    assert choice is not None
    assert list(choice.refused)[:2] == ranked[:2]
    assert all("killed by SIGILL" in why for why in list(choice.refused.values())[:2])
    assert choice.variant in ranked[2:]
    smoke_log = tmp_path / "logs" / f"smoke-{choice.variant}.log"
    loaded = f"loaded CPU backend from {script.variant_path(layout, choice.variant)}"
    assert loaded in smoke_log.read_text(errors="replace")
    server = script.start_server(home=tmp_path)
    try:
        assert script.server_env(layout, choice.variant)["GGML_BACKEND_PATH"].endswith(
            f"libggml-cpu-{choice.variant}.so"
        )
        reply = script._complete(server)
        assert reply["choices"]
    finally:
        script.stop_server(server.process)


@pytest.mark.judge_server
def test_the_real_server_with_no_variant_that_runs_fails_in_one_line(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = copy_of_the_real_build(script, tmp_path)
    require(script.is_x86_64(), "kernel variants exist on x86-64 only")
    for name in script.variant_candidates(layout):
        build_variant(script.variant_path(layout, name), crashes=True)
    monkeypatch.setenv("JUDGE_HOME", str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(Path(script.__file__)), "build"], capture_output=True, text=True
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "no kernel variant of llama-server runs on this CPU" in errors[0]
    assert "Traceback" not in result.stderr

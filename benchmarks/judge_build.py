"""Build-time and speed of the local judge's llama-server, one build recipe against another.

Compares, on this machine and the same vendored llama.cpp source, four portable recipes (none
uses -march=native):
- `dispatch`: what `scripts/judge-server build` makes: llama.cpp's runtime CPU dispatch
  (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS, shared libraries) with the six kernel variants the
  script builds; the best one this CPU runs is loaded at start-up;
- `all-variants`: the same dispatch with all 14 x86 kernel variants;
- `avx2`: one static build for an AVX2 baseline (fails on CPUs without AVX2);
- `avx2-untrimmed`: the same without scripts/judge-server.cmake's unity trim of the multimodal
  models, i.e. the build before that trim.

For each: configure + build time (`ninja -j2`, fresh build dir), compile steps, then prompt
processing and generation tokens/s of the judge model through llama-server's /completion
endpoint (median of --runs, prompt cache off).

    .venv/bin/python benchmarks/judge_build.py                     # all four, ~25 min, quiet machine
    .venv/bin/python benchmarks/judge_build.py --recipes dispatch,avx2 --runs 5
    nice .venv/bin/python benchmarks/judge_build.py --reuse              # skip builds done before
    .venv/bin/python benchmarks/judge_build.py --variants --runs 3       # each kernel variant here

Needs `make judge-server-build` first (the source and the model come from its cache).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
RECIPES = ("dispatch", "all-variants", "avx2", "avx2-untrimmed")
AVX2 = ["-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_BMI2=ON"]
# About 400 prompt tokens, like a judge request (instructions, rubric, answer).
PROMPT = (
    "You grade answers against a rubric. For each key point say covered, partial or missing.\n"
    + "Key point: 批量归一化对每一层的输入按小批量计算均值和方差做标准化，再缩放平移。\n" * 12
    + "Answer: 批量归一化让训练更稳定，可以用更大的学习率。\nVerdicts:"
)
PREDICT = 96


def load_script() -> ModuleType:
    name = "judge_server_script"
    loader = importlib.machinery.SourceFileLoader(name, str(REPO / "scripts" / "judge-server"))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def recipe_flags(script: ModuleType, recipe: str) -> list[str]:
    shipped = [f for f in script.cmake_flags() if not f.startswith("-DCMAKE_EXPORT_COMPILE")]
    if recipe in ("dispatch", "all-variants"):
        return shipped
    static = [f for f in shipped if f not in script.X86_FLAGS] + ["-DBUILD_SHARED_LIBS=OFF", *AVX2]
    if recipe == "avx2-untrimmed":
        return [f for f in static if not f.startswith("-DCMAKE_PROJECT_")]
    return static


def recipe_targets(script: ModuleType, recipe: str, folder: Path) -> list[str]:
    if recipe == "dispatch":
        return list(script.build_targets())
    if recipe == "all-variants":
        listed = subprocess.run(
            ["ninja", "-C", str(folder), "-t", "targets", "all"], capture_output=True, text=True
        ).stdout
        variants = {line.split(":")[0] for line in listed.splitlines()}
        return ["llama-server", *sorted(v for v in variants if v.startswith("ggml-cpu-"))]
    return ["llama-server"]


def source_for(script: ModuleType, recipe: str, work: Path) -> Path:
    """The judge's source; for all-variants, a copy with ggml's full variant list restored."""
    source = script.Layout(script.judge_home()).source
    if recipe != "all-variants":
        return Path(source)
    pristine = work / "src-all-variants"
    if not pristine.is_dir():
        shutil.copytree(source, pristine, symlinks=True)
        lists = pristine / "ggml" / "src" / "CMakeLists.txt"
        original = lists.with_name("CMakeLists.txt.orig")
        if original.is_file():
            shutil.copyfile(original, lists)
    return pristine


def build(script: ModuleType, recipe: str, work: Path, reuse: bool) -> dict[str, object]:
    folder = work / recipe
    binary = folder / "bin" / "llama-server"
    if reuse and binary.is_file():
        return {"recipe": recipe, "binary": str(binary), "build_s": None, "steps": None}
    shutil.rmtree(folder, ignore_errors=True)
    flags = recipe_flags(script, recipe)
    source = source_for(script, recipe, work)
    started = time.monotonic()
    configure = ["cmake", "-S", str(source), "-B", str(folder), "-G", "Ninja", *flags]
    subprocess.run(configure, check=True, stdout=subprocess.DEVNULL)
    targets = recipe_targets(script, recipe, folder)
    steps = subprocess.run(
        ["ninja", "-C", str(folder), "-n", *targets], capture_output=True, text=True
    ).stdout.count("\n")
    subprocess.run(
        ["ninja", "-C", str(folder), "-j2", *targets], check=True, stdout=subprocess.DEVNULL
    )
    return {
        "recipe": recipe,
        "binary": str(binary),
        "build_s": round(time.monotonic() - started),
        "steps": steps,
    }


def tokens_per_s(root: str, runs: int) -> dict[str, float]:
    """Median prompt and generation speed of a running llama-server (prompt cache off)."""
    prompt_tps: list[float] = []
    gen_tps: list[float] = []
    for _ in range(runs):
        body = {"prompt": PROMPT, "n_predict": PREDICT, "temperature": 0, "cache_prompt": False}
        request = urllib.request.Request(
            f"{root}/completion",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=600) as resp:
            timings = json.load(resp)["timings"]
        prompt_tps.append(timings["prompt_per_second"])
        gen_tps.append(timings["predicted_per_second"])
    return {
        "prompt_tokens": timings["prompt_n"],
        "prompt_tps": round(statistics.median(prompt_tps), 1),
        "generation_tps": round(statistics.median(gen_tps), 1),
    }


def speed(script: ModuleType, binary: Path, runs: int) -> dict[str, float]:
    layout = script.Layout(script.judge_home())
    port = script.free_port()
    command = [
        str(binary), "-m", str(layout.model), "--host", "127.0.0.1", "--port", str(port),
        "-c", "4096", "-t", "2", "-np", "1", "--no-webui",
    ]  # fmt: skip
    log = binary.with_name("bench-server.log")
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=binary.parent)
    try:
        deadline = time.monotonic() + 300
        while not script.healthy(f"http://127.0.0.1:{port}"):
            if server.poll() is not None:
                raise SystemExit(f"{binary}: {script.describe_exit(server.returncode)} ({log})")
            if time.monotonic() > deadline:
                raise SystemExit(f"{binary}: not healthy in 300 s ({log})")
            time.sleep(0.5)
        return tokens_per_s(f"http://127.0.0.1:{port}", runs)
    finally:
        script.stop_server(server)


def variant_speeds(script: ModuleType, runs: int, threads: int) -> int:
    """Every kernel variant of the installed build that runs here, one after another."""
    layout = script.Layout(script.judge_home())
    choice = script.read_choice(layout)
    print(f"{'variant':<16} {'prompt tok/s':>13} {'gen tok/s':>10}  on this machine")
    for variant in script.variant_candidates(layout):
        if choice and variant in choice.refused:
            print(f"{variant:<16} {'-':>13} {'-':>10}  refused: {choice.refused[variant]}")
            continue
        try:
            server = script.start_server(variant=variant, slots=1, threads=threads)
        except script.BuildError as failure:
            print(f"{variant:<16} {'-':>13} {'-':>10}  does not start: {failure}")
            continue
        try:
            row = tokens_per_s(server.base_url.removesuffix("/v1"), runs)
        finally:
            script.stop_server(server.process)
        chosen = "chosen by the build" if choice and variant == choice.variant else ""
        print(f"{variant:<16} {row['prompt_tps']:>13} {row['generation_tps']:>10}  {chosen}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated")
    parser.add_argument("--work", type=Path, default=Path("/tmp/judge-build-bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="reuse binaries built before")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="instead: the speed of each kernel variant of the installed build on this machine",
    )
    parser.add_argument("--threads", type=int, default=1, help="server threads for --variants")
    args = parser.parse_args()
    script = load_script()
    ready, reason = script.build_status()
    if not ready:
        raise SystemExit(f"{reason}: run `make judge-server-build` first")
    if args.variants:
        return variant_speeds(script, args.runs, args.threads)
    rows = []
    for recipe in args.recipes.split(","):
        if recipe not in RECIPES:
            raise SystemExit(f"unknown recipe {recipe!r}: choose from {', '.join(RECIPES)}")
        print(f"[{recipe}] building ...", file=sys.stderr, flush=True)
        row = build(script, recipe, args.work, args.reuse)
        print(f"[{recipe}] measuring tokens/s ...", file=sys.stderr, flush=True)
        row.update(speed(script, Path(str(row["binary"])), args.runs))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'recipe':<20} {'build s':>8} {'steps':>6} {'prompt tok/s':>13} {'gen tok/s':>10}")
    for r in rows:
        print(
            f"{r['recipe']:<20} {r['build_s'] or '-':>8} {r['steps'] or '-':>6} "
            f"{r['prompt_tps']:>13} {r['generation_tps']:>10}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""hagen benchmark: build and check speed, and how they grow with the topology.

Run from the repository root with the project's virtualenv:
    .venv/bin/python bench/run.py            # full run (a few minutes)
    .venv/bin/python bench/run.py --quick    # under a minute
Prints a table and writes bench/results/latest.json. Not part of the test suite: timings
belong in a benchmark, not in tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HAGEN = str(Path(PYTHON).parent / "hagen")


def _stats(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": len(samples)}


def timed_rounds(commands: dict, repeat: int) -> dict:
    """Each command once per round, rounds repeated: the commands are compared under the same
    machine load (interleaving keeps a slow spell from landing on one command only). A command
    is an argv, or a function of the round number that returns one."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for round_number in range(repeat):
        for name, argv in commands.items():
            argv = argv(round_number) if callable(argv) else argv
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            samples[name].append(time.perf_counter() - start)
    return {name: _stats(values) for name, values in samples.items()}


def end_to_end(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        subprocess.run([HAGEN, "build", str(ROOT / "examples/seed.yaml"), "-o", str(out)], check=True,
                       capture_output=True)  # warm the template cache once, as every later build finds it
        return timed_rounds({
            "python -c pass": [PYTHON, "-c", "pass"],
            "import jinja2, jsonschema, ruamel.yaml, typer": [
                PYTHON, "-c", "import jinja2, jsonschema, ruamel.yaml, typer"],
            "hagen --version": [HAGEN, "--version"],
            "hagen --help": [HAGEN, "--help"],
            # Into a new folder: every file is created (the first build, or a changed spec).
            "hagen build examples/seed.yaml": lambda i: [HAGEN, "build", str(ROOT / "examples/seed.yaml"),
                                                         "-o", str(Path(tmp) / f"fresh{i}")],
            # Over the same bundle, spec unchanged (a pre-commit hook): compared, nothing written.
            "hagen build examples/seed.yaml (unchanged)": [HAGEN, "build", str(ROOT / "examples/seed.yaml"),
                                                           "-o", str(out)],
        }, repeat)


SCALE_PROBE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from genspec import spec_for
from compiler.pipeline import compile_text
compile_text(spec_for(3))  # templates compiled and cached, imports done
text = spec_for(int(sys.argv[1]), memcached_everywhere=sys.argv[3] == "everywhere")
start = time.perf_counter()
result = compile_text(text)
seconds = time.perf_counter() - start
assert result.ok, result.diagnostics[:3]
size = sum(len(f.content) for f in result.files)
print(json.dumps({"seconds": seconds, "files": len(result.files), "bytes": size,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def scaling(sizes: list[int], repeat: int, memcached: str = "three") -> dict:
    rows = {}
    for n in sizes:
        samples = []
        for _ in range(repeat):
            proc = subprocess.run([PYTHON, "-c", SCALE_PROBE, str(n), str(ROOT / "bench"), memcached], check=True,
                                  capture_output=True, text=True, cwd=ROOT)
            samples.append(json.loads(proc.stdout))
        times = [s["seconds"] for s in samples]
        rows[n] = {"median": statistics.median(times), "min": min(times), "max": max(times),
                   "files": samples[0]["files"], "bytes": samples[0]["bytes"],
                   "peak_rss_mb": max(s["peak_rss_mb"] for s in samples)}
    return rows


def growth_exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) over log(x): 1 is linear, 2 quadratic."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.mean(lx), statistics.mean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def check_timing() -> dict:
    from compiler.check import check_bundle
    from compiler.spec import retarget

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        # The seed on debian12, so that this (bookworm) machine's own tools judge it: a debian13
        # bundle needs a tools root, whose chroot start-up would be timed too.
        spec = Path(tmp) / "seed-debian12.yaml"
        spec.write_text(retarget((ROOT / "examples/seed.yaml").read_text(), "debian12"))
        subprocess.run([HAGEN, "build", str(spec), "-o", str(out)], check=True, capture_output=True)
        start = time.perf_counter()
        proc = subprocess.run([HAGEN, "check", "--strict", str(out)], capture_output=True, text=True)
        wall = time.perf_counter() - start
        results = check_bundle(out)
    share: dict[str, float] = {}
    for r in results:
        tool = r.tool.split(":")[0].split(" (")[0]
        share[tool] = share.get(tool, 0.0) + r.details.get("seconds", 0.0)
    return {"wall_seconds": wall, "exit": proc.returncode, "checks": len(results),
            "busy_seconds_per_tool": dict(sorted(share.items(), key=lambda kv: -kv[1]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes (under a minute)")
    parser.add_argument("--json", default=str(ROOT / "bench/results/latest.json"), help="where to write the JSON")
    args = parser.parse_args()
    # The venv's own tools (ksvalidator) must be found, as in CI, or check --strict fails on a skip.
    os.environ["PATH"] = f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}"
    # Byte-compile hagen as `pip install` does for an operator: an editable install under
    # PYTHONDONTWRITEBYTECODE=1 (set on this machine) would compile ~25 modules from source on
    # every run, about 40 ms that no installed hagen pays; the dependencies have their .pyc.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "compiler")], check=True)
    repeat = 3 if args.quick else 10
    sizes = [3, 10, 30, 100, 300] if args.quick else [3, 10, 30, 100, 300, 1000]
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform()},
              "date": time.strftime("%Y-%m-%d"), "quick": args.quick}
    report["end_to_end"] = end_to_end(repeat)
    report["scaling"] = scaling(sizes, 1 if args.quick else 3)
    xs = list(report["scaling"])
    report["growth_exponent_nodes"] = growth_exponent(xs, [report["scaling"][n]["median"] for n in xs])
    report["growth_exponent_output_bytes"] = growth_exponent([report["scaling"][n]["bytes"] for n in xs],
                                                             [report["scaling"][n]["median"] for n in xs])
    if not args.quick:
        report["scaling_memcached_everywhere"] = scaling([1000], 3, memcached="everywhere")
    report["check"] = check_timing()

    print("end to end (process start included), seconds: median [min-max]")
    for name, r in report["end_to_end"].items():
        print(f"  {name:<48} {r['median']:.3f} [{r['min']:.3f}-{r['max']:.3f}]")
    floor = report["end_to_end"]["import jinja2, jsonschema, ruamel.yaml, typer"]["median"]
    build = report["end_to_end"]["hagen build examples/seed.yaml"]["median"]
    unchanged = report["end_to_end"]["hagen build examples/seed.yaml (unchanged)"]["median"]
    print(f"  build / dependency floor: {build / floor:.2f}x into a new folder, {unchanged / floor:.2f}x "
          f"unchanged (target 1.5x)")
    print("\nin-process compile of generated specs")
    print(f"  {'nodes':>6} {'median s':>9} {'min':>7} {'max':>7} {'files':>7} {'output KiB':>11} {'peak MB':>8}")
    for n, r in report["scaling"].items():
        print(f"  {n:>6} {r['median']:>9.3f} {r['min']:>7.3f} {r['max']:>7.3f} {r['files']:>7} "
              f"{r['bytes'] // 1024:>11} {r['peak_rss_mb']:>8.0f}")
    print(f"  growth exponent: {report['growth_exponent_nodes']:.2f} over nodes, "
          f"{report['growth_exponent_output_bytes']:.2f} over output bytes")
    for n, r in report.get("scaling_memcached_everywhere", {}).items():
        print(f"  {n:>6} {r['median']:>9.3f} {r['min']:>7.3f} {r['max']:>7.3f} {r['files']:>7} "
              f"{r['bytes'] // 1024:>11} {r['peak_rss_mb']:>8.0f}  (memcached on every Keystone node)")
    c = report["check"]
    print(f"\nhagen check --strict on the seed bundle: {c['wall_seconds']:.1f} s wall, {c['checks']} checks, exit {c['exit']}")
    for tool, seconds in c["busy_seconds_per_tool"].items():
        print(f"  {tool:<40} {seconds:6.1f} s busy")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

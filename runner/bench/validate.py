"""Benchmark `runner validate`: cold start of one file, and 500 files in one call.

    python -m runner.bench.validate [--out bench/validate.json] [--repeat 7]

Both runs are whole processes (interpreter start included), the way CI and an editor
hook call the command. Prints a table and writes JSON. Targets (issue 2): cold one-file
run under 0.4 s, 500 files under 2 s, on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"cold_one_file_s": 0.4, "five_hundred_files_s": 2.0}


def _runner_cmd() -> list[str]:
    exe = shutil.which("runner", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "runner.cli"]


def _time(cmd: list[str], repeat: int) -> list[float]:
    env = {**os.environ, "RUNNER_DISABLE_PLUGIN_AUTOLOAD": "1"}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n"
                             f"{proc.stdout.decode()}{proc.stderr.decode()}")
    return times


def _make_corpus(folder: Path, count: int) -> None:
    sources = [*sorted((ROOT / "strategies.d").glob("*.yaml")), ROOT / "examples/sma_cross.yaml"]
    texts = [p.read_text(encoding="utf-8") for p in sources]
    for i in range(count):
        text = texts[i % len(texts)]
        lines = [f"name: bench-{i:04d}" if ln.startswith("name:") else ln
                 for ln in text.splitlines()]
        (folder / f"s{i:04d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/validate.json"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--files", type=int, default=500)
    args = parser.parse_args()
    cmd = _runner_cmd()
    one = _time([*cmd, "validate", str(ROOT / "examples/sma_cross.yaml")], args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        _make_corpus(Path(tmp), args.files)
        many = _time([*cmd, "validate", tmp], max(3, args.repeat // 2))
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "cold_one_file_s": {"min": min(one), "median": statistics.median(one), "runs": one},
        "five_hundred_files_s": {"files": args.files, "min": min(many),
                                 "median": statistics.median(many), "runs": many,
                                 "per_file_ms": 1000 * statistics.median(many) / args.files},
        "targets": TARGETS,
    }
    result["meets_targets"] = (
        result["cold_one_file_s"]["median"] < TARGETS["cold_one_file_s"]  # type: ignore[index]
        and result["five_hundred_files_s"]["median"] < TARGETS["five_hundred_files_s"]  # type: ignore[index]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"cold validate, one file : median {statistics.median(one):.3f} s  "
          f"(min {min(one):.3f}; target < {TARGETS['cold_one_file_s']} s)")
    print(f"validate {args.files} files   : median {statistics.median(many):.3f} s  "
          f"(min {min(many):.3f}; target < {TARGETS['five_hundred_files_s']} s)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

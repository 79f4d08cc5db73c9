"""The `runner` process skips the interpreter's teardown at exit (`runner.cli._exit`)
but keeps what Python promises: atexit handlers run, output is flushed, and the exit
code is the command's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_main(args: list[str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    script = (f"import sys\n{prelude}\nsys.argv = ['runner', *{args!r}]\n"
              "from runner.cli import main\nmain()\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)


def test_atexit_handlers_run_and_output_is_flushed() -> None:
    done = run_main(["validate", "examples/sma_cross.yaml"],
                    prelude="import atexit\n"
                            "atexit.register(lambda: print('handler ran', flush=True))\n"
                            "sys.stdout.write('unflushed ')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("unflushed ")
    assert "0 errors" in done.stdout
    assert done.stdout.rstrip().endswith("handler ran")


def test_exit_codes_are_the_commands() -> None:
    assert run_main(["validate", "no/such/file.yaml"]).returncode != 0
    usage = run_main(["run"])
    assert usage.returncode == 2 and "Usage" in usage.stderr
    assert run_main(["--version"]).returncode == 0


def test_a_live_thread_gets_pythons_own_exit() -> None:
    """A thread still running at the end (a plugin's writer, say) is joined, as a
    normal interpreter exit does, before the process ends."""
    done = run_main(["validate", "examples/sma_cross.yaml"], prelude=(
        "import threading, time\n"
        "def late():\n    time.sleep(0.5)\n    print('thread finished', flush=True)\n"
        "threading.Thread(target=late).start()"))
    assert done.returncode == 0, done.stderr
    assert "thread finished" in done.stdout

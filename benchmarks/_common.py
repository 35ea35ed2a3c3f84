"""Helpers shared by the benchmark scripts: run metadata (date, machine, command, commit)."""

import datetime as _dt
import hashlib
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (first core), or platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def n_cpus() -> int:
    """Cores this process may use (what `nproc` prints)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def git(*args) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.rstrip("\n")  # keep leading spaces: `git status --porcelain` columns depend on them


# what the results depend on: the packages, the RTL the estimates and simulations read, the benchmarks
RESULT_SOURCES = ("trigger", "lstcommon", "reconstruction", "hdl", "testbench", "benchmarks")


def git_state() -> dict:
    """HEAD commit and the tracked files of the package that differ from it (they change the results)."""
    commit = git("rev-parse", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no", "--", *RESULT_SOURCES).splitlines()
             if line]
    diff = git("diff", "HEAD", "--", *RESULT_SOURCES)
    return {"commit": commit, "uncommitted": dirty, "diff_sha1": hashlib.sha1(diff.encode()).hexdigest()[:12] if diff else None}


def command_line() -> str:
    """The command as typed, with the interpreter written as `python`."""
    return shlex.join(["python", *sys.argv])


def run_metadata() -> dict:
    import ctapipe
    import numpy

    state = git_state()
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host": platform.node(),
        "nproc": n_cpus(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "ctapipe": ctapipe.__version__,
        "numpy": numpy.__version__,
        "command": command_line(),
        "environment": {k: os.environ[k] for k in ("CTAPIPE_SVC_PATH", "LST_TRIGGER_DATA") if k in os.environ},
        "git_commit": state["commit"],
        "uncommitted_changes": state["uncommitted"],
        "uncommitted_diff_sha1": state["diff_sha1"],
    }


def metadata_markdown(meta: dict) -> list[str]:
    dirty = meta["uncommitted_changes"]
    lines = [
        f"- date: {meta['date']}",
        f"- machine: {meta['nproc']} cores (`nproc`), CPU `{meta['cpu_model']}`, host `{meta['host']}`",
        f"- software: Python {meta['python']}, ctapipe {meta['ctapipe']}, numpy {meta['numpy']}",
        "- command (from the repository root): `"
        + " ".join([*(f"{k}={v}" for k, v in meta["environment"].items()), meta["command"]])
        + "`",
        f"- git commit: `{meta['git_commit']}`"
        + (
            f" with uncommitted changes in {', '.join(f'`{p}`' for p in dirty)}"
            + (f" (sha1 of `git diff HEAD -- {' '.join(RESULT_SOURCES)}`: {meta['uncommitted_diff_sha1']})"
               if meta["uncommitted_diff_sha1"] else "")
            if dirty
            else f" (clean tree for {', '.join(f'{d}/' for d in RESULT_SOURCES)})"
        ),
    ]
    return lines


def or_na(default: str = "{:.3g}"):
    """A formatter for report tables: ``value`` in ``fmt`` (``default`` unless given), "n/a" where it is None."""
    return lambda value, fmt=default: "n/a" if value is None else fmt.format(value)

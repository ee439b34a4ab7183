#!/usr/bin/env python3
"""Run every interop script (boto3, then the AWS CLI / query / generate) against the binary.

    cargo build -p <cli crate>            # or however the binary is built
    BACKUP_SUMMARIES_BIN=${CARGO_TARGET_DIR:-$PWD/target}/debug/backup-summaries \
        python3 cli/tests/interop/run_all.py

Needs boto3 and the AWS CLI, e.g. from a virtual environment whose `bin` is first on PATH
(`python3 -m venv VENV && VENV/bin/pip install boto3 awscli`; `.ci/run` makes one). Prints each script's
output, then as its last line the combined `N passed, M failed`; exits non-zero on failure.
"""

import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["test_boto3.py", "test_awscli.py", "test_ingest.py"]
SCRIPT_TIMEOUT = 1200  # seconds, per script
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def main():
    problems = []
    try:
        import boto3  # noqa: F401
    except ImportError:
        problems.append("`import boto3` fails")
    if not shutil.which("aws"):
        problems.append("`aws` is not on PATH")
    if problems:
        print("; ".join(problems) + ". Install boto3 and awscli into a virtual environment "
              "(python3 -m venv VENV && VENV/bin/pip install boto3 awscli) and put VENV/bin "
              "first on PATH; .ci/run does this")
        print("0 passed, 1 failed")
        return 1
    if not os.environ.get("BACKUP_SUMMARIES_BIN"):
        print("BACKUP_SUMMARIES_BIN is not set: point it at the built backup-summaries binary")
        print("0 passed, 1 failed")
        return 1

    passed = failed = 0
    for script in SCRIPTS:
        print(f"=== {script}", flush=True)
        try:
            proc = subprocess.run([sys.executable, "-B", os.path.join(HERE, script)]
                                  + sys.argv[1:], capture_output=True, text=True,
                                  timeout=SCRIPT_TIMEOUT, stdin=subprocess.DEVNULL, cwd=HERE)
            out, code = proc.stdout, proc.returncode
            sys.stdout.write(out)
            if proc.stderr.strip():
                sys.stdout.write(proc.stderr)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            sys.stdout.write(out)
            print(f"{script}: timed out after {SCRIPT_TIMEOUT}s")
            code = None
        lines = [line for line in out.splitlines() if line.strip()]
        m = SUMMARY.match(lines[-1]) if lines else None
        if m and code is not None:
            passed += int(m.group(1))
            failed += int(m.group(2))
            if code != 0 and int(m.group(2)) == 0:
                print(f"{script}: exit code {code} although no test failed")
                failed += 1
        else:
            print(f"{script}: ended without a summary line (exit code {code})")
            failed += 1
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

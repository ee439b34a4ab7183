#!/usr/bin/env python3
"""Live ingest (SPEC §11) read back through boto3 and the AWS CLI: records and EventBridge events
posted to `serve --data-dir` a moment before show in the summaries; a state transition moves
the count, a stale event is ignored, a category change moves the job, and all of it survives
`kill -9`. Plain Python, no pytest:

    BACKUP_SUMMARIES_BIN=${CARGO_TARGET_DIR:-target}/debug/backup-summaries python3 cli/tests/interop/test_ingest.py

Prints PASS/FAIL per test and, last, exactly one line `N passed, M failed`; exit 1 on failure.
"""

import sys

sys.dont_write_bytecode = True

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

import harness as h  # noqa: E402
from harness import R1, SOLO, check, test  # noqa: E402

TOKEN = "interop-token"
CREATED = "2026-11-26T10:00:00Z"  # inside the window of harness.NOW (2026-11-26T23:59:59Z)


def post(url, kind, body, token=TOKEN):
    """POST body to /ingest/<kind>-jobs; returns (status, parsed JSON)."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url + f"/ingest/{kind}-jobs", data=data, method="POST",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=h.HTTP_TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read())
        finally:
            e.close()


def event(kind, job_id, state, time, category=None, account=SOLO):
    detail_type = {"backup": "Backup Job State Change", "copy": "Copy Job State Change",
                   "restore": "Restore Job State Change"}[kind]
    detail = {f"{kind}JobId": job_id, "status" if kind == "restore" else "state": state,
              "resourceType": "EBS", "creationDate": CREATED,
              "backupVaultName": "Default", "percentDone": "100.0"}
    if category is not None:
        detail["messageCategory"] = category
    return {"version": "0", "id": f"{job_id}-{time}", "detail-type": detail_type,
            "source": "aws.backup", "account": account, "time": time, "region": R1,
            "resources": [], "detail": detail}


def ingested(url, kind, body, want):
    status, answer = post(url, kind, body)
    check(status == 200, f"ingest answered {status}: {answer}")
    got = (answer["Inserted"], answer["Replaced"], answer["Stale"])
    check(got == want, f"ingest counts {got}, expected {want}")


def states(cl, kind="backup", **params):
    """{(State, MessageCategory): Count} over every row, via boto3 (MessageCategory is
    AGGREGATE_ALL unless split; None for restore, which has none)."""
    rows, _ = h.call_all(cl, kind, dict({"AccountId": SOLO, "State": "ANY"}, **params))
    out = {}
    for row in rows:
        key = (row["State"], row.get("MessageCategory"))
        out[key] = out.get(key, 0) + row["Count"]
    return out


class Live:
    """A server with a data dir and a token, and a boto3 client for SOLO."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ingest-interop-")
        self.start()

    def start(self):
        self.srv = h.Server.start(["--region", R1, "--data-dir", self.dir,
                                   "--ingest-token", TOKEN])
        self.url = self.srv.url
        self.cl = h.boto3_client(self.url, account=SOLO)

    def kill9(self):
        os.killpg(self.srv.proc.pid, signal.SIGKILL)
        self.srv.proc.wait(timeout=h.STOP_TIMEOUT)
        self.srv.stop()

    def close(self):
        self.srv.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@test
def test_events_move_the_counts_boto3_reads():
    live = Live()
    try:
        url, cl = live.url, live.cl
        ingested(url, "backup", json.dumps(event("backup", "b-1", "CREATED",
                                                 "2026-11-26T10:00:01Z")), (1, 0, 0))
        check(states(cl) == {("CREATED", "AGGREGATE_ALL"): 1}, f"after CREATED: {states(cl)}")
        # RUNNING then COMPLETED as a JSON array of events: the count moves twice
        body = json.dumps([event("backup", "b-1", "RUNNING", "2026-11-26T10:05:00Z"),
                           event("backup", "b-1", "COMPLETED", "2026-11-26T10:30:00Z",
                                 category="Success")])
        ingested(url, "backup", body, (0, 2, 0))
        check(states(cl, MessageCategory="ANY") == {("COMPLETED", "SUCCESS"): 1},
              f"after COMPLETED: {states(cl, MessageCategory='ANY')}")
        # a late RUNNING event (older time) is stale and ignored
        ingested(url, "backup", json.dumps(event("backup", "b-1", "RUNNING",
                                                 "2026-11-26T10:20:00Z")), (0, 0, 1))
        check(states(cl) == {("COMPLETED", "AGGREGATE_ALL"): 1}, f"after a stale event: {states(cl)}")
        # a category change (same state) moves the job to the other category
        ingested(url, "backup", json.dumps(event("backup", "b-1", "COMPLETED",
                                                 "2026-11-26T10:31:00Z",
                                                 category="Failure")), (0, 1, 0))
        got = states(cl, MessageCategory="ANY")
        check(got == {("COMPLETED", "FAILURE"): 1}, f"after a category change: {got}")
        rows, _ = h.call_all(cl, "backup", {"AccountId": SOLO, "State": "COMPLETED",
                                            "MessageCategory": "SUCCESS"})
        check(rows == [], f"SUCCESS still counted: {rows}")
        # list-API JSON Lines and restore events (status, not state) on the other paths
        lines = "\n".join(json.dumps({
            "CopyJobId": f"c-{i}", "AccountId": SOLO, "State": "RUNNING", "ResourceType": "EFS",
            "CreationDate": CREATED, "SourceBackupVaultArn":
                f"arn:aws:backup:{R1}:{SOLO}:backup-vault:Default"}) for i in range(3))
        ingested(url, "copy", lines, (3, 0, 0))
        check(states(cl, "copy") == {("RUNNING", "AGGREGATE_ALL"): 3}, f"copy: {states(cl, 'copy')}")
        ingested(url, "restore", json.dumps(event("restore", "r-1", "PENDING",
                                                  "2026-11-26T10:00:00Z")), (1, 0, 0))
        check(states(cl, "restore") == {("PENDING", None): 1},
              f"restore: {states(cl, 'restore')}")
        # and after kill -9, the same answers
        live.kill9()
        live.start()
        got = states(live.cl, MessageCategory="ANY")
        check(got == {("COMPLETED", "FAILURE"): 1}, f"after kill -9: {got}")
        check(states(live.cl, "copy") == {("RUNNING", "AGGREGATE_ALL"): 3}, "copy after kill -9")
        # the stored version survived the restart: an older event is still stale
        ingested(live.url, "backup", json.dumps(event("backup", "b-1", "RUNNING",
                                                      "2026-11-26T10:20:00Z")), (0, 0, 1))
    finally:
        live.close()


@test
def test_aws_cli_reads_ingested_jobs():
    live = Live()
    try:
        ingested(live.url, "backup", json.dumps(event("backup", "b-9", "FAILED",
                                                      "2026-11-26T11:00:00Z")), (1, 0, 0))
        env = dict(os.environ)
        for k in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        env.update(AWS_ACCESS_KEY_ID=SOLO, AWS_SECRET_ACCESS_KEY="x", AWS_PAGER="",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1")
        p = subprocess.run(["aws", "backup", "list-backup-job-summaries", "--endpoint-url",
                            live.url, "--region", R1, "--output", "json", "--state", "ANY",
                            "--account-id", SOLO], capture_output=True, text=True, env=env,
                           timeout=h.CMD_TIMEOUT, stdin=subprocess.DEVNULL)
        check(p.returncode == 0, f"aws exited {p.returncode}: {p.stderr[-500:]}")
        rows = json.loads(p.stdout)["BackupJobSummaries"]
        got = [(r["State"], r["Count"]) for r in rows]
        check(got == [("FAILED", 1)], f"aws rows {got}")
    finally:
        live.close()


@test
def test_ingest_without_the_token_is_refused_and_changes_nothing():
    live = Live()
    try:
        status, answer = post(live.url, "backup",
                              json.dumps(event("backup", "b-1", "FAILED", "2026-11-26T11:00:00Z")),
                              token="wrong")
        check(status == 401 and answer.get("Code") == "UnauthorizedException",
              f"{status} {answer}")
        check(states(live.cl) == {}, f"a refused request changed the jobs: {states(live.cl)}")
    finally:
        live.close()


if __name__ == "__main__":
    try:
        import boto3  # noqa: F401
    except ImportError:
        print("boto3 is not installed: python3 -m venv VENV && "
              "VENV/bin/pip install boto3 awscli, then put VENV/bin first on PATH")
        print("0 passed, 1 failed")
        sys.exit(1)
    h.run_tests()

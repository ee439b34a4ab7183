#!/usr/bin/env python3
"""The AWS CLI against `backup-summaries serve`, and the binary's `query` and `generate`
sub-commands. Plain Python, no pytest:

    BACKUP_SUMMARIES_BIN=${CARGO_TARGET_DIR:-target}/debug/backup-summaries python3 cli/tests/interop/test_awscli.py [NAME...]

Prints PASS/FAIL per test and, last, exactly one line `N passed, M failed`; exit 1 on failure.
"""

import sys

sys.dont_write_bytecode = True

import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from collections import Counter  # noqa: E402

import harness as h  # noqa: E402
from harness import (  # noqa: E402
    DADM, DEFAULT, MEM1, MGMT, NOW, OPS, R1, R2, SOLO, check, check_rows, test,
)

CLI_PARAM = {  # AWS parameter name -> AWS CLI option
    "AccountId": "--account-id", "State": "--state", "ResourceType": "--resource-type",
    "MessageCategory": "--message-category", "AggregationPeriod": "--aggregation-period",
    "MaxResults": "--max-results", "NextToken": "--next-token",
    "MalwareScanner": "--malware-scanner", "ScanResultStatus": "--scan-result-status",
}


def server():
    return h.fixture_server()


def records(op):
    return h.fixture().records[op]


def aws(opname, params=None, account=MGMT, region=R1, extra=(), url=None):
    """Run `aws backup <op> ... --output json`; returns CompletedProcess (text)."""
    op = OPS[opname]
    args = ["aws", "backup", op.cli, "--endpoint-url", url or server().url, "--region", region,
            "--output", "json", "--cli-connect-timeout", "5", "--cli-read-timeout", "15"]
    for k, v in (params or {}).items():
        args += [CLI_PARAM[k], str(v)]
    args += list(extra)
    env = dict(os.environ)
    for k in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    env.update(AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="x", AWS_PAGER="",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1",
               AWS_RETRY_MODE="standard")
    try:
        return subprocess.run(args, capture_output=True, text=True, env=env,
                              timeout=h.CMD_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"`{' '.join(args)}` did not finish in {h.CMD_TIMEOUT}s") from None


def aws_json(opname, params=None, **kw):
    p = aws(opname, params, **kw)
    check(p.returncode == 0, f"aws {OPS[opname].cli} {params} exited {p.returncode}: "
                             f"{p.stderr.strip()[-500:]}")
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"aws output is not JSON: {p.stdout[:300]!r}") from None


def paginated_ops():
    cl = h.boto3_client("http://127.0.0.1:9")  # no request is sent
    return [name for name, op in OPS.items() if cl.can_paginate(op.method)]


def _all_any(op):
    p = {d: "ANY" for d in op.dims}
    p["AccountId"] = "ANY"
    return p


# ------------------------------------------------------------------------------------------
# aws backup list-*-job-summaries
# ------------------------------------------------------------------------------------------

@test
def test_cli_all_operations_rows_and_counts():
    c = h.Collector()
    for opname, op in OPS.items():
        for params in ({"State": "ANY"}, _all_any(op), {},
                       {"AccountId": "AGGREGATE_ALL", "AggregationPeriod": "FOURTEEN_DAYS"},
                       {"AccountId": "ANY", "State": "COMPLETED",
                        "AggregationPeriod": "SEVEN_DAYS"}):
            callers = (MGMT, DADM, MEM1, SOLO) if params == {"State": "ANY"} else (MGMT, MEM1)
            for account in callers:
                def one(opname=opname, op=op, params=params, account=account):
                    body = aws_json(opname, params, account=account)
                    expected = h.expected_rows(op, records(opname), params, caller=account)
                    rows = body.get(op.list_key)
                    check(rows is not None, f"{op.list_key} missing: {body}")
                    check(len(rows) == len(expected), f"{len(rows)} rows, expected {len(expected)}")
                    check(h.total(rows) == h.total(expected),
                          f"Count sum {h.total(rows)}, expected {h.total(expected)}")
                    check_rows(rows, expected, "aws CLI rows")
                    check(body.get("AggregationPeriod") == params.get("AggregationPeriod", "ONE_DAY"),
                          f"AggregationPeriod {body.get('AggregationPeriod')!r}")
                c.run(f"{opname} {params} as {account}", one)
    c.done()


@test
def test_cli_region_selects_jobs():
    for opname, op in OPS.items():
        params = _all_any(op)
        body = aws_json(opname, params, account=MGMT, region=R2)
        rows = body[op.list_key]
        check(rows, f"{opname}: no {R2} rows")
        check_rows(rows, h.expected_rows(op, records(opname), params, caller=MGMT, region=R2),
                   f"{opname} --region {R2}")


@test
def test_cli_no_sign_request_is_default_account():
    for opname, op in OPS.items():
        params = {"AccountId": "ANY", "State": "ANY"}
        body = aws_json(opname, params, extra=["--no-sign-request"])
        check_rows(body[op.list_key],
                   h.expected_rows(op, records(opname), params, caller=DEFAULT, region=R1),
                   f"{opname} --no-sign-request")


@test
def test_cli_manual_next_token_on_unpaginated_operations():
    auto = set(paginated_ops())
    for opname, op in OPS.items():
        if opname in auto:
            continue
        params = _all_any(op)
        expected = h.expected_rows(op, records(opname), params)
        rows, token = [], None
        for _ in range(len(expected) + 2):
            p = dict(params, MaxResults=2)
            if token:
                p["NextToken"] = token
            body = aws_json(opname, p)
            page = body[op.list_key]
            check(1 <= len(page) <= 2, f"{opname}: page of {len(page)} rows with --max-results 2")
            rows += page
            token = body.get("NextToken")
            if not token:
                break
        check_rows(rows, expected, f"{opname}: --max-results 2 / --next-token loop")


@test
def test_cli_automatic_pagination():
    auto = paginated_ops()
    print(f"    note: the AWS CLI auto-paginates: {auto or 'none'}")
    for opname in auto:
        op = OPS[opname]
        params = _all_any(op)
        expected = h.expected_rows(op, records(opname), params)
        check(len(expected) >= 3, f"{opname}: fixture too small")
        for size in ("1", "2", "1000"):
            body = aws_json(opname, params, extra=["--page-size", size])
            check("NextToken" not in body, f"{opname} --page-size {size}: NextToken left over")
            check_rows(body[op.list_key], expected, f"{opname} --page-size {size}")
        # --max-items cuts the listing and hands out a resume token
        body = aws_json(opname, params, extra=["--max-items", "2", "--page-size", "1"])
        check_rows(body[op.list_key], expected[:2], f"{opname} --max-items 2")
        check(body.get("NextToken"), f"{opname} --max-items 2: no NextToken")
        rest = aws_json(opname, params, extra=["--starting-token", body["NextToken"],
                                                "--page-size", "2"])
        check_rows(body[op.list_key] + rest[op.list_key], expected,
                   f"{opname} --max-items then --starting-token")
        # --no-paginate: one call; --max-results is still passed through
        one = aws_json(opname, params, extra=["--no-paginate", "--max-results", "1"])
        check(len(one[op.list_key]) == 1 and one.get("NextToken"),
              f"{opname} --no-paginate --max-results 1: {one}")


@test
def test_cli_bad_parameters_fail_with_invalid_parameter_value():
    c = h.Collector()
    for opname, op in OPS.items():
        cases = [{"State": "BOGUS"}, {"AccountId": "123"}, {"AggregationPeriod": "HOURLY"},
                 {"ResourceType": "x" * 51}]
        if opname not in paginated_ops():
            cases += [{"MaxResults": 1001}, {"NextToken": "garbage"}]
        else:
            cases += [{"State": "ABORTING"}]
        for params in cases:
            def one(opname=opname, params=params):
                p = aws(opname, params)
                check(p.returncode in (254, 255), f"exit code {p.returncode}, expected 254/255; "
                                                  f"stdout {p.stdout[:200]!r}")
                check("InvalidParameterValueException" in p.stderr,
                      f"stderr: {p.stderr.strip()[-400:]!r}")
            c.run(f"{opname} {params}", one)
    c.done()


# ------------------------------------------------------------------------------------------
# backup-summaries query
# ------------------------------------------------------------------------------------------

def query_cmd(opname, params, caller, all_pages=True, extra=()):
    fx = h.fixture()
    args = ["query", "--operation", opname, "--now", NOW, "--region", R1] + fx.data_args()
    args += ["--caller", caller]
    for k, v in params:
        args += ["--param", f"{k}={v}"]
    if all_pages:
        args.append("--all-pages")
    return h.run_bin(args + list(extra))


QUERY_CASES = [
    [("State", "ANY")],
    [("AccountId", "ANY"), ("State", "ANY"), ("AggregationPeriod", "SEVEN_DAYS")],
    [("AccountId", "AGGREGATE_ALL"), ("ResourceType", "ANY"), ("AggregationPeriod", "FOURTEEN_DAYS")],
    [("AccountId", MEM1), ("ResourceType", "EBS")],
    [],
]


@test
def test_query_subcommand_equals_http_body():
    c = h.Collector()
    url = server().url
    for opname, op in OPS.items():
        cases = list(QUERY_CASES)
        if "MessageCategory" in op.dims:
            cases.append([("AccountId", "ANY"), ("MessageCategory", "success")])
        if opname == "scan":
            cases.append([("ScanResultStatus", "ANY"), ("MalwareScanner", "GUARDDUTY")])
        if opname == "restore":
            cases.append([("ResourceType", "Storage Gateway"), ("AccountId", "ANY")])
        for params in cases:
            for caller in (MGMT, MEM1, SOLO):
                def one(opname=opname, op=op, params=params, caller=caller):
                    p = query_cmd(opname, params, caller)
                    check(p.returncode == 0, f"exit {p.returncode}: {p.stderr.strip()[-400:]}")
                    try:
                        printed = json.loads(p.stdout)
                    except ValueError:
                        raise AssertionError(f"stdout is not one JSON body: {p.stdout[:300]!r}") \
                            from None
                    raw = h.raw_get(url, op.route, h.qs(params), account=caller, region=R1)
                    check(raw.status == 200, f"HTTP {raw!r}")
                    served = raw.json()
                    check("NextToken" not in served, "fixture answer spans pages; raise MaxResults")
                    check(printed == served,
                          f"query printed\n    {json.dumps(printed)[:600]}\n  server sent\n"
                          f"    {json.dumps(served)[:600]}")
                    check_rows(printed[op.list_key],
                               h.expected_rows(op, records(opname), dict(params), caller=caller),
                               "query output vs reference")
                c.run(f"{opname} {params} as {caller}", one)
    c.done()


@test
def test_query_all_pages_concatenates_small_pages():
    for opname, op in OPS.items():
        params = list(_all_any(op).items())
        expected = h.expected_rows(op, records(opname), dict(params))
        p = query_cmd(opname, params + [("MaxResults", "1")], MGMT)
        check(p.returncode == 0, f"{opname}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
        body = json.loads(p.stdout)
        check_rows(body[op.list_key], expected, f"{opname} query --all-pages MaxResults=1")
        check("NextToken" not in body, f"{opname}: NextToken left in an --all-pages body")


@test
def test_query_first_page_equals_http_first_page():
    # same inputs, same bytes (SPEC §7: tokens are a pure function of the query and caller)
    url = server().url
    for opname, op in OPS.items():
        params = list(_all_any(op).items()) + [("MaxResults", "2")]
        p = query_cmd(opname, params, MGMT, all_pages=False)
        check(p.returncode == 0, f"{opname}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
        printed = json.loads(p.stdout)
        served = h.raw_get(url, op.route, h.qs(params), account=MGMT).json()
        check(printed == served, f"{opname}: query\n    {printed}\n  server\n    {served}")
        check(printed.get("NextToken"), f"{opname}: no NextToken with MaxResults=2")
        # and the CLI's token works against the server
        nxt = h.raw_get(url, op.route, h.qs(params + [("NextToken", printed["NextToken"])]),
                        account=MGMT)
        check(nxt.status == 200, f"{opname}: query's token rejected by serve: {nxt!r}")


@test
def test_query_bad_param_exits_2_with_error_body():
    for opname in OPS:
        for bad in ("State=BOGUS", "AccountId=12", "MaxResults=0", "AggregationPeriod=DAILY"):
            fx = h.fixture()
            args = ["query", "--operation", opname, "--now", NOW, "--region", R1] + \
                fx.data_args() + ["--caller", MGMT, "--param", bad, "--all-pages"]
            p = h.run_bin(args)
            check(p.returncode == 2, f"{opname} --param {bad}: exit {p.returncode}, expected 2; "
                                     f"stderr {p.stderr.strip()[-300:]!r}")
            check("InvalidParameterValueException" in p.stderr,
                  f"{opname} --param {bad}: stderr {p.stderr.strip()[-300:]!r}")
            m = re.search(r"\{.*\}", p.stderr, re.S)
            check(m, f"{opname} --param {bad}: no JSON error body on stderr: {p.stderr!r}")
            body = json.loads(m.group(0))
            check(body.get("Code") == "InvalidParameterValueException" and body.get("Message"),
                  f"{opname} --param {bad}: error body {body!r}")
            check(bad.split("=")[0] in body["Message"], f"message {body['Message']!r}")


# ------------------------------------------------------------------------------------------
# backup-summaries generate
# ------------------------------------------------------------------------------------------

def generate(opname, jobs, seed, *extra):
    p = h.run_bin(["generate", "--operation", opname, "--jobs", str(jobs), "--seed", str(seed)]
                  + list(extra))
    check(p.returncode == 0, f"generate {opname} exited {p.returncode}: {p.stderr.strip()[-300:]}")
    return p.stdout


@test
def test_generate_is_deterministic_json_lines():
    a = generate("scan", 100, 7)
    b = generate("scan", 100, 7)
    check(a == b, "two runs with --seed 7 differ")
    lines = a.splitlines()
    check(len(lines) == 100, f"{len(lines)} lines, expected 100")
    op = OPS["scan"]
    for i, line in enumerate(lines):
        rec = json.loads(line)
        check(isinstance(rec, dict), f"line {i + 1} is not an object")
        check(re.fullmatch(r"[0-9]{12}", rec.get("AccountId", "")), f"line {i + 1}: {rec}")
        check(rec.get("State") in op.states, f"line {i + 1}: State {rec.get('State')!r}")
        check("CreationDate" in rec and "ResourceType" in rec, f"line {i + 1}: {rec}")
    check(generate("scan", 100, 8) != a, "--seed 8 gives the same jobs as --seed 7")


@test
def test_generate_accounts_option():
    lines = generate("backup", 200, 3, "--accounts", "3").splitlines()
    accounts = {json.loads(line)["AccountId"] for line in lines}
    check(1 <= len(accounts) <= 3, f"--accounts 3 gave {len(accounts)} accounts")


@test
def test_generated_jobs_load_into_serve_and_summarize():
    fx = h.fixture()
    for opname, op in OPS.items():
        n = 100 if opname == "scan" else 60
        text = generate(opname, n, 7, "--now", NOW)
        path = fx.path(f"generated-{opname}.jsonl")
        with open(path, "w") as f:
            f.write(text)
        recs = h.load_records_text(op, text, R1)
        check(len(recs) == n, f"{opname}: parsed {len(recs)} generated records")
        with h.Server.start([op.file_flag, path, "--region", R1]) as srv:
            # the busiest (account, region) pairs as callers (no organization: standalone)
            busiest = Counter((r["AccountId"], r["Region"]) for r in recs).most_common(3)
            for (account, region), _ in busiest:
                cl = h.boto3_client(srv.url, account=account, region=region)
                for params in ({"AccountId": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"},
                               dict(_all_any(op))):
                    rows, _ = h.call_all(cl, opname, params)
                    expected = h.expected_rows(op, recs, params, caller=account, region=region,
                                               org=None)
                    check_rows(rows, expected,
                               f"generated {opname} jobs, {params} as {account}@{region}")
            in_window = sum(1 for r in recs if r["created"] >= h.NOW_MS - 14 * h.DAY_MS)
            check(in_window, f"generate --now {NOW}: no {opname} job in the last 14 days")


if __name__ == "__main__":
    missing = []
    try:
        import boto3  # noqa: F401
    except ImportError:
        missing.append("boto3")
    if not shutil.which("aws"):
        missing.append("the aws CLI")
    if missing:
        print(f"{' and '.join(missing)} not found: python3 -m venv VENV && "
              "VENV/bin/pip install boto3 awscli, then put VENV/bin first on PATH")
        print("0 passed, 1 failed")
        sys.exit(1)
    h.run_tests()

"""Shared helpers for the interop tests of the `backup-summaries` binary.

What lives here:
- a tiny test registry and runner (no pytest): `@test`, `run_tests()`;
- the server process: `Server.start(...)` runs `backup-summaries serve --listen 127.0.0.1:0
  --now NOW ...`, waits (bounded) for the `listening on http://HOST:PORT` line and stops the
  process at the end;
- clients: a boto3 `backup` client factory and a raw, SigV4-signed `urllib` GET;
- the fixture: small, hand-written job files of all four kinds (two regions, seven accounts, an
  organization file) written into a temp dir;
- an independent, naive model of SPEC.md (record parsing, visibility, buckets, grouping, row
  order) that computes the exact rows every query must return.

The binary is located through the environment variable BACKUP_SUMMARIES_BIN (required).
Only the loopback interface is used, and every wait has a timeout.
"""

import atexit
import datetime as dt
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter
from decimal import Decimal

# Keep any local AWS configuration (profiles, credentials, IMDS) out of the tests. This only
# affects this process and the processes it starts.
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_PAGER"] = ""
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
             "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BACKUP", "AWS_CA_BUNDLE"):
    os.environ.pop(_var, None)

# --------------------------------------------------------------------------------------------
# Constants of the fixture
# --------------------------------------------------------------------------------------------

NOW = "2026-11-26T23:59:59Z"
DAY_MS = 86_400_000

R1 = "us-east-1"   # the server's --region, and the region of most records
R2 = "eu-west-1"

MGMT = "111111111111"      # organization management account (also listed in Accounts)
DADM = "222222222222"      # delegated administrator (NOT listed in Accounts on purpose)
MEM1 = "333333333333"      # member
MEM2 = "444444444444"      # member
EMPTY = "666666666666"     # member without any job
SOLO = "555555555555"      # standalone: in no organization
DEFAULT = "123456789012"   # the binary's default --default-account (standalone)

ORGANIZATION = {
    "ManagementAccountId": MGMT,
    "DelegatedAdministrators": [DADM],
    "Accounts": [MGMT, MEM1, MEM2, EMPTY],
}

START_TIMEOUT = 20.0     # seconds to wait for the "listening on" line
STOP_TIMEOUT = 5.0
HTTP_TIMEOUT = 15.0
CMD_TIMEOUT = 90.0       # any single subprocess (aws CLI, query, generate)


def parse_rfc3339_ms(text):
    """RFC 3339 -> epoch milliseconds, digits below the millisecond truncated (SPEC §2)."""
    m = re.fullmatch(
        r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)", text)
    if not m:
        raise ValueError(f"not RFC 3339: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "")[:3].ljust(3, "0")
    tz = m.group(8)
    offset = 0
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    base = dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.timezone.utc)
    return (int(base.timestamp()) - offset) * 1000 + int(frac)


def epoch(text):
    """'2026-11-26T10:00:00' (UTC) -> epoch seconds as an int, for writing fixture numbers."""
    ms = parse_rfc3339_ms(text + "Z")
    assert ms % 1000 == 0, text
    return ms // 1000


NOW_MS = parse_rfc3339_ms(NOW)


def ms_to_dt(ms):
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)


def vault(region, acct, name="Default"):
    return f"arn:aws:backup:{region}:{acct}:backup-vault:{name}"


def rpoint(region, acct, n):
    return f"arn:aws:backup:{region}:{acct}:recovery-point:{n}"


def volume(region, acct, n):
    return f"arn:aws:ec2:{region}:{acct}:volume/vol-{n}"


# --------------------------------------------------------------------------------------------
# Fixture job records, in the wire shapes of list-backup-jobs & co.
#
# Window for NOW = 2026-11-26T23:59:59Z: ONE_DAY = 14 day buckets 2026-11-13 ..= 2026-11-26,
# SEVEN_DAYS = [11-20, 11-27), FOURTEEN_DAYS = [11-13, 11-27).
# Edge records: exactly at 11-13 00:00 (in), 11-12 23:59:59.999999 (sub-ms digits truncated ->
# out), 11-19 23:59:59.999 (out of SEVEN_DAYS, in FOURTEEN_DAYS), 11-20 00:00 (in SEVEN_DAYS),
# 11-26 00:00 (today), 11-26 23:59:59.5 (after NOW, still today), 11-27 00:00 (out).
# Region sources: `Region` member (wins over ARNs), BackupVaultArn, SourceBackupVaultArn (copy;
# DestinationBackupVaultArn must be ignored), RecoveryPointArn, an ARN with an empty region
# field (skipped). Timestamps: epoch numbers (int and exact binary fractions), RFC 3339 with Z,
# AWS CLI v2 style "+00:00" with microseconds, and a non-zero offset.
# --------------------------------------------------------------------------------------------

BACKUP_DOC = [  # file backup-a.json: one whole {"BackupJobs": [...]} document
    {"BackupJobId": "b01", "AccountId": MGMT, "BackupVaultName": "Default",
     "BackupVaultArn": vault(R1, MGMT), "ResourceArn": volume(R1, MGMT, 1),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": epoch("2026-11-26T10:00:00"), "BackupSizeInBytes": 1024,
     "CreatedBy": {"BackupPlanId": "plan-1", "BackupRuleId": "rule-1"}, "IsParent": False},
    {"BackupJobId": "b02", "AccountId": MGMT, "BackupVaultArn": vault(R1, MGMT),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "Success",
     "CreationDate": epoch("2026-11-26T11:00:00") + 0.5},
    {"BackupJobId": "b03", "AccountId": MGMT, "BackupVaultArn": vault(R1, MGMT),
     "ResourceType": "EC2", "State": "FAILED", "MessageCategory": "ACCESS_DENIED",
     "StatusMessage": "denied", "CreationDate": "2026-11-25T08:00:00Z"},
    {"BackupJobId": "b04", "AccountId": MGMT, "BackupVaultArn": vault(R1, MGMT),
     "ResourceType": "RDS", "State": "COMPLETED",
     "CreationDate": "2026-11-26T00:00:00.000Z"},                     # no MessageCategory
    {"BackupJobId": "b05", "AccountId": DADM, "BackupVaultArn": vault(R1, DADM),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "success",
     "CreationDate": "2026-11-20T00:00:00.000000+00:00"},              # SEVEN_DAYS: first ms
    {"BackupJobId": "b06", "AccountId": DADM, "BackupVaultArn": vault(R1, DADM),
     "ResourceType": "S3", "State": "EXPIRED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-19T23:59:59.999Z"},                      # SEVEN_DAYS: out
    {"BackupJobId": "b07", "AccountId": MEM1, "BackupVaultArn": vault(R1, MEM1),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": epoch("2026-11-13T00:00:00")},                    # window: first ms
    {"BackupJobId": "b08", "AccountId": MEM1, "BackupVaultArn": vault(R1, MEM1),
     "ResourceType": "EC2", "State": "PARTIAL", "MessageCategory": "INVALIDPARAMETERS",
     "CreationDate": "2026-11-12T23:59:59.999999Z"},                   # truncated -> out
    {"BackupJobId": "b09", "AccountId": MEM1, "BackupVaultArn": vault(R1, MEM1),
     "ResourceType": "EBS", "State": "RUNNING", "MessageCategory": "SUCCESS",
     "CreationDate": epoch("2026-11-26T23:59:59") + 0.5},              # after NOW, today
    {"BackupJobId": "b10", "AccountId": MEM1, "BackupVaultArn": vault(R1, MEM1),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-27T00:00:00Z"},                          # tomorrow: out
    {"BackupJobId": "b11", "AccountId": MEM2, "BackupVaultArn": vault(R1, MEM2),
     "ResourceType": "RDS", "State": "ABORTED", "MessageCategory": "INVALID_STATE",
     "CreationDate": "2026-11-22T14:00:00+02:00"},                     # = 12:00Z
]

BACKUP_LINES = [  # file backup-b.jsonl: JSON Lines
    {"BackupJobId": "b12", "AccountId": MEM2, "BackupVaultArn": vault(R1, MEM2),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": epoch("2026-11-22T13:00:00")},
    {"BackupJobId": "b13", "AccountId": MEM2, "BackupVaultArn": vault(R1, MEM2),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": epoch("2026-11-22T14:00:00") + 0.25},
    {"BackupJobId": "b14", "AccountId": SOLO, "BackupVaultArn": vault(R1, SOLO),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-26T09:00:00Z"},
    {"BackupJobId": "b15", "AccountId": SOLO, "BackupVaultArn": vault(R1, SOLO),
     "ResourceType": "EBS", "State": "FAILED", "MessageCategory": "TIMEOUT",
     "CreationDate": "2026-11-24T09:00:00Z"},
    {"BackupJobId": "b16", "AccountId": DEFAULT, "BackupVaultArn": vault(R1, DEFAULT),
     "ResourceType": "EC2", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-26T05:00:00Z"},
    {"BackupJobId": "b17", "AccountId": MGMT, "BackupVaultArn": vault(R1, MGMT),
     "ResourceType": "EBS", "State": "PENDING", "CreationDate": "2026-11-01T00:00:00Z"},
    # eu-west-1
    {"BackupJobId": "b18", "AccountId": MGMT, "Region": R2, "ResourceType": "EBS",
     "State": "COMPLETED", "MessageCategory": "SUCCESS", "CreationDate": "2026-11-26T10:00:00Z"},
    {"BackupJobId": "b19", "AccountId": MEM1, "BackupVaultArn": vault(R2, MEM1),
     "ResourceType": "EBS", "State": "FAILED", "MessageCategory": "ACCESS_DENIED",
     "CreationDate": "2026-11-23T10:00:00Z"},
    {"BackupJobId": "b20", "AccountId": MEM1, "Region": R2,
     "BackupVaultArn": vault(R1, MEM1),                                # Region member wins
     "ResourceType": "EC2", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-23T11:00:00Z"},
    {"BackupJobId": "b21", "AccountId": DADM, "RecoveryPointArn": rpoint(R2, DADM, "rp21"),
     "ResourceArn": volume(R1, DADM, 21),                              # RecoveryPointArn first
     "ResourceType": "RDS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-21T00:00:00Z"},
    {"BackupJobId": "b22", "AccountId": SOLO, "BackupVaultArn": vault(R2, SOLO),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-25T00:00:00Z"},
]

COPY_LINES = [  # file copy.jsonl
    {"CopyJobId": "c01", "AccountId": MGMT, "SourceBackupVaultArn": vault(R1, MGMT),
     "DestinationBackupVaultArn": vault(R2, MGMT, "dr"), "ResourceType": "EBS",
     "State": "COMPLETED", "MessageCategory": "SUCCESS", "CreationDate": "2026-11-26T01:00:00Z"},
    {"CopyJobId": "c02", "AccountId": MGMT, "SourceBackupVaultArn": vault(R1, MGMT),
     "ResourceType": "EBS", "State": "COMPLETING", "CreationDate": "2026-11-26T02:00:00Z"},
    {"CopyJobId": "c03", "AccountId": DADM, "SourceBackupVaultArn": vault(R1, DADM),
     "ResourceType": "RDS", "State": "FAILED", "MessageCategory": "ACCESS_DENIED",
     "CreationDate": "2026-11-24T03:00:00Z"},
    {"CopyJobId": "c04", "AccountId": DADM, "SourceBackupVaultArn": vault(R1, DADM),
     "ResourceType": "RDS", "State": "FAILING", "MessageCategory": "access_denied",
     "CreationDate": "2026-11-24T04:00:00Z"},
    {"CopyJobId": "c05", "AccountId": MEM1, "SourceBackupVaultArn": vault(R1, MEM1),
     "ResourceType": "EFS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": epoch("2026-11-15T00:00:00")},
    {"CopyJobId": "c06", "AccountId": MEM2, "SourceBackupVaultArn": vault(R1, MEM2),
     "ResourceType": "EFS", "State": "ABORTED", "CreationDate": epoch("2026-11-18T00:00:00")},
    {"CopyJobId": "c07", "AccountId": MEM2, "SourceBackupVaultArn": vault(R1, MEM2),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-20T12:00:00Z"},
    {"CopyJobId": "c08", "AccountId": SOLO, "SourceBackupVaultArn": vault(R1, SOLO),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-26T12:00:00Z"},
    {"CopyJobId": "c09", "AccountId": MGMT, "SourceBackupVaultArn": vault(R2, MGMT),
     "DestinationBackupVaultArn": vault(R1, MGMT, "dr"), "ResourceType": "EBS",
     "State": "COMPLETED", "MessageCategory": "SUCCESS", "CreationDate": "2026-11-26T01:00:00Z"},
    {"CopyJobId": "c10", "AccountId": MEM1,
     "SourceBackupVaultArn": f"arn:aws:backup::{MEM1}:backup-vault:legacy",  # no region: skip
     "RecoveryPointArn": rpoint(R2, MEM1, "rp10"), "ResourceType": "EC2", "State": "PARTIAL",
     "MessageCategory": "TIMEOUT", "CreationDate": "2026-11-22T00:00:00Z"},
    {"CopyJobId": "c11", "AccountId": MEM1, "SourceBackupVaultArn": vault(R1, MEM1),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-10T00:00:00Z"},                          # out of window
    {"CopyJobId": "c12", "AccountId": DEFAULT, "SourceBackupVaultArn": vault(R1, DEFAULT),
     "ResourceType": "EBS", "State": "RUNNING", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-26T06:00:00Z"},
    {"CopyJobId": "c13", "AccountId": MGMT, "SourceBackupVaultArn": vault(R1, MGMT),
     "ResourceType": "EBS", "State": "COMPLETED", "MessageCategory": "SUCCESS",
     "CreationDate": "2026-11-26T01:30:00Z"},
]

RESTORE_DOC = [  # file restore.json: one whole {"RestoreJobs": [...]} document ("Status")
    {"RestoreJobId": "r01", "AccountId": MGMT, "RecoveryPointArn": rpoint(R1, MGMT, "r01"),
     "ResourceType": "EBS", "Status": "COMPLETED", "CreationDate": "2026-11-26T03:00:00Z",
     "CreatedResourceArn": volume(R1, MGMT, 901)},
    {"RestoreJobId": "r02", "AccountId": MGMT, "RecoveryPointArn": rpoint(R1, MGMT, "r02"),
     "ResourceType": "EBS", "Status": "FAILED", "StatusMessage": "boom",
     "CreationDate": "2026-11-26T04:00:00Z"},
    {"RestoreJobId": "r03", "AccountId": DADM, "RecoveryPointArn": rpoint(R1, DADM, "r03"),
     "ResourceType": "RDS", "Status": "PENDING", "CreationDate": epoch("2026-11-21T00:00:00")},
    {"RestoreJobId": "r04", "AccountId": MEM1, "RecoveryPointArn": rpoint(R1, MEM1, "r04"),
     "ResourceType": "Storage Gateway", "Status": "COMPLETED",
     "CreationDate": "2026-11-19T00:00:00Z"},
    {"RestoreJobId": "r05", "AccountId": MEM1, "RecoveryPointArn": rpoint(R1, MEM1, "r05"),
     "ResourceType": "EBS", "Status": "RUNNING", "CreationDate": "2026-11-26T23:59:59.999Z"},
    {"RestoreJobId": "r06", "AccountId": MEM2, "RecoveryPointArn": rpoint(R1, MEM2, "r06"),
     "ResourceType": "S3", "Status": "ABORTED", "CreationDate": "2026-11-14T08:00:00Z"},
    {"RestoreJobId": "r07", "AccountId": MEM2, "Region": R2,
     "RecoveryPointArn": rpoint(R1, MEM2, "r07"), "ResourceType": "S3",
     "Status": "COMPLETED", "CreationDate": "2026-11-14T08:00:00Z"},
    {"RestoreJobId": "r08", "AccountId": SOLO, "RecoveryPointArn": rpoint(R1, SOLO, "r08"),
     "ResourceType": "EBS", "Status": "COMPLETED", "CreationDate": "2026-11-26T00:00:00Z"},
    {"RestoreJobId": "r09", "AccountId": MGMT, "RecoveryPointArn": rpoint(R2, MGMT, "r09"),
     "ResourceType": "EC2", "Status": "CREATED", "CreationDate": "2026-11-25T00:00:00Z"},
    {"RestoreJobId": "r10", "AccountId": MEM1, "RecoveryPointArn": rpoint(R1, MEM1, "r10"),
     "ResourceType": "EBS", "Status": "COMPLETED", "CreationDate": "2026-11-12T12:00:00Z"},
    {"RestoreJobId": "r11", "AccountId": DEFAULT, "RecoveryPointArn": rpoint(R1, DEFAULT, "r11"),
     "ResourceType": "EBS", "Status": "COMPLETED", "CreationDate": "2026-11-26T07:00:00Z"},
    {"RestoreJobId": "r12", "AccountId": MEM1, "RecoveryPointArn": rpoint(R1, MEM1, "r12"),
     "ResourceType": "Storage Gateway", "Status": "FAILED",
     "CreationDate": "2026-11-19T01:00:00Z"},
]


def _scan(id_, acct, state, rtype, created, scanner="GUARDDUTY", result=None, **region):
    rec = {"ScanJobId": id_, "AccountId": acct, "ResourceType": rtype, "State": state,
           "CreationDate": created, "ScanMode": "FULL_SCAN", "ScannerRoleArn": "arn:aws:iam::x"}
    if scanner is not None:
        rec["MalwareScanner"] = scanner
    if result is not None:
        rec["ScanResult"] = {"ScanResultStatus": result}
    rec.update(region)
    return rec


SCAN_DOC = [  # file scan-a.json: one whole {"ScanJobs": [...]} document
    _scan("s01", MGMT, "COMPLETED", "EBS", "2026-11-26T01:00:00Z", result="NO_THREATS_FOUND",
          BackupVaultArn=vault(R1, MGMT), RecoveryPointArn=rpoint(R1, MGMT, "s01")),
    _scan("s02", MGMT, "COMPLETED", "EBS", "2026-11-26T02:00:00Z", result="THREATS_FOUND",
          BackupVaultArn=vault(R1, MGMT)),
    _scan("s03", MGMT, "RUNNING", "EBS", "2026-11-26T03:00:00Z",      # no ScanResult yet
          BackupVaultArn=vault(R1, MGMT)),
    _scan("s04", DADM, "COMPLETED_WITH_ISSUES", "EC2", epoch("2026-11-22T00:00:00"),
          result="THREATS_FOUND", BackupVaultArn=vault(R1, DADM)),
    _scan("s05", MEM1, "FAILED", "EC2", "2026-11-17T00:00:00Z", scanner=None,
          BackupVaultArn=vault(R1, MEM1)),                             # no scanner, no result
    _scan("s06", MEM1, "COMPLETED", "EC2", "2026-11-17T05:00:00Z", result="NO_THREATS_FOUND",
          BackupVaultArn=vault(R1, MEM1)),
]

SCAN_LINES = [  # file scan-b.jsonl
    _scan("s07", MEM2, "CANCELED", "S3", "2026-11-13T00:00:00Z", BackupVaultArn=vault(R1, MEM2)),
    _scan("s08", MEM2, "COMPLETED", "S3", "2026-11-20T00:00:00Z", result="NO_THREATS_FOUND",
          BackupVaultArn=vault(R1, MEM2)),
    _scan("s09", SOLO, "COMPLETED", "EBS", "2026-11-26T00:00:00Z", result="NO_THREATS_FOUND",
          BackupVaultArn=vault(R1, SOLO)),
    _scan("s10", MGMT, "COMPLETED", "EBS", "2026-11-26T00:00:00Z", result="NO_THREATS_FOUND",
          Region=R2, BackupVaultArn=vault(R1, MGMT)),
    _scan("s11", MEM1, "CREATED", "EBS", "2026-11-25T00:00:00Z", BackupVaultArn=vault(R2, MEM1)),
    _scan("s12", DEFAULT, "COMPLETED", "EBS", "2026-11-26T08:00:00Z", result="THREATS_FOUND",
          BackupVaultArn=vault(R1, DEFAULT)),
    _scan("s13", MGMT, "COMPLETED", "EBS", "2026-11-26T05:00:00Z", result="NO_THREATS_FOUND",
          ResourceArn=volume(R1, MGMT, 13)),                           # region from ResourceArn
    _scan("s14", MEM2, "COMPLETED", "S3", "2026-11-21T00:00:00Z", result="UNKNOWN",
          BackupVaultArn=vault(R1, MEM2)),                             # newer SDK models only
]


# --------------------------------------------------------------------------------------------
# Operations (SPEC §1)
# --------------------------------------------------------------------------------------------

class Op:
    def __init__(self, name, route, method, cli, list_key, doc_key, state_field, dims, states,
                 file_flag):
        self.name = name
        self.route = route
        self.method = method          # boto3 method name
        self.cli = cli                # aws CLI sub-command
        self.list_key = list_key
        self.doc_key = doc_key
        self.state_field = state_field
        self.dims = dims              # dimensions besides AccountId and time, in row order
        self.states = states
        self.file_flag = file_flag    # serve flag

    def __repr__(self):
        return self.name


OPS = {
    "backup": Op("backup", "/audit/backup-job-summaries", "list_backup_job_summaries",
                 "list-backup-job-summaries", "BackupJobSummaries", "BackupJobs", "State",
                 ["State", "ResourceType", "MessageCategory"],
                 "CREATED PENDING RUNNING ABORTING ABORTED COMPLETED FAILED EXPIRED PARTIAL".split(),
                 "--backup-jobs"),
    "copy": Op("copy", "/audit/copy-job-summaries", "list_copy_job_summaries",
               "list-copy-job-summaries", "CopyJobSummaries", "CopyJobs", "State",
               ["State", "ResourceType", "MessageCategory"],
               "CREATED RUNNING ABORTING ABORTED COMPLETING COMPLETED FAILING FAILED PARTIAL".split(),
               "--copy-jobs"),
    "restore": Op("restore", "/audit/restore-job-summaries", "list_restore_job_summaries",
                  "list-restore-job-summaries", "RestoreJobSummaries", "RestoreJobs", "Status",
                  ["State", "ResourceType"],
                  "CREATED PENDING RUNNING ABORTED COMPLETED FAILED".split(),
                  "--restore-jobs"),
    "scan": Op("scan", "/audit/scan-job-summaries", "list_scan_job_summaries",
               "list-scan-job-summaries", "ScanJobSummaries", "ScanJobs", "State",
               ["State", "ResourceType", "MalwareScanner", "ScanResultStatus"],
               "CREATED RUNNING COMPLETED COMPLETED_WITH_ISSUES FAILED CANCELED".split(),
               "--scan-jobs"),
}
MALWARE_SCANNERS = ["GUARDDUTY"]
SCAN_RESULT_STATUSES = ["NO_THREATS_FOUND", "THREATS_FOUND", "UNKNOWN"]


# --------------------------------------------------------------------------------------------
# Fixture files
# --------------------------------------------------------------------------------------------

class Fixture:
    """The fixture job files and organization file, written into a fresh temp dir."""

    files = {  # op -> [(file name, "doc" | "lines", records)]
        "backup": [("backup-a.json", "doc", BACKUP_DOC), ("backup-b.jsonl", "lines", BACKUP_LINES)],
        "copy": [("copy.jsonl", "lines", COPY_LINES)],
        "restore": [("restore.json", "doc", RESTORE_DOC)],
        "scan": [("scan-a.json", "doc", SCAN_DOC), ("scan-b.jsonl", "lines", SCAN_LINES)],
    }

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bs-interop-")
        atexit.register(shutil.rmtree, self.dir, True)
        self.paths = {op: [] for op in OPS}
        for op, entries in self.files.items():
            for name, form, records in entries:
                path = os.path.join(self.dir, name)
                if form == "doc":
                    write_doc(path, OPS[op].doc_key, records)
                else:
                    write_lines(path, records)
                self.paths[op].append(path)
        self.org_path = os.path.join(self.dir, "organization.json")
        with open(self.org_path, "w") as f:
            json.dump(ORGANIZATION, f, indent=2)
        self.records = {op: [parse_record(OPS[op], r, R1) for _, _, recs in entries for r in recs]
                        for op, entries in self.files.items()}

    def data_args(self, with_org=True, ops=None):
        args = []
        for op in (ops or OPS):
            for p in self.paths[op]:
                args += [OPS[op].file_flag, p]
        if with_org:
            args += ["--organization", self.org_path]
        return args

    def path(self, name):
        return os.path.join(self.dir, name)


def write_doc(path, key, records):
    with open(path, "w") as f:
        json.dump({key: records}, f, indent=2)
        f.write("\n")


def write_lines(path, records):
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


# --------------------------------------------------------------------------------------------
# Reference model of SPEC.md (naive on purpose: no cleverness, one record at a time)
# --------------------------------------------------------------------------------------------

def ascii_upper(s):
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in s)


def _arn_region(arn):
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else None


def parse_creation(value):
    if isinstance(value, bool):
        raise ValueError("CreationDate is a boolean")
    if isinstance(value, (int, float, Decimal)):
        ms = Decimal(str(value)) * 1000
        return int(ms.to_integral_value(rounding="ROUND_FLOOR"))
    if isinstance(value, str):
        return parse_rfc3339_ms(value)
    raise ValueError(f"bad CreationDate {value!r}")


def parse_record(op, rec, default_region):
    """A list-*-jobs wire record -> a normalized dict (what SPEC §2 says the record means)."""
    region = rec.get("Region")
    if not region:
        for field in ("BackupVaultArn", "SourceBackupVaultArn", "RecoveryPointArn", "ResourceArn"):
            if rec.get(field) and _arn_region(rec[field]):
                region = _arn_region(rec[field])
                break
    acct = rec["AccountId"]
    if not re.fullmatch(r"[0-9]{12}", acct):
        raise ValueError(f"bad AccountId {acct!r}")
    state = rec[op.state_field]
    if state not in op.states:
        raise ValueError(f"bad state {state!r}")
    out = {
        "AccountId": acct,
        "Region": region or default_region,
        "State": state,
        "ResourceType": rec["ResourceType"],
        "created": parse_creation(rec["CreationDate"]),
    }
    if "MessageCategory" in op.dims:
        cat = rec.get("MessageCategory")
        out["MessageCategory"] = ascii_upper(cat) if cat else None
    if op.name == "scan":
        out["MalwareScanner"] = rec.get("MalwareScanner")
        out["ScanResultStatus"] = (rec.get("ScanResult") or {}).get("ScanResultStatus")
    return out


def load_records_text(op, text, default_region):
    """Parse a job file the way SPEC §2 describes: a whole document or JSON Lines."""
    stripped = text.strip()
    try:
        whole = json.loads(stripped, parse_float=Decimal)
    except ValueError:
        whole = None
    if isinstance(whole, dict) and op.doc_key in whole:
        raw = whole[op.doc_key]
    elif isinstance(whole, list):
        raw = whole
    else:
        raw = [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line.strip()]
    return [parse_record(op, r, default_region) for r in raw]


def org_role(org, account):
    if org is None:
        return "standalone"
    if account == org["ManagementAccountId"]:
        return "management"
    if account in org.get("DelegatedAdministrators", []):
        return "delegated"
    if account in org_accounts(org):
        return "member"
    return "standalone"


def org_accounts(org):
    return set(org.get("Accounts", [])) | {org["ManagementAccountId"]} | set(
        org.get("DelegatedAdministrators", []))


def buckets(period, now_ms=NOW_MS):
    today = now_ms - now_ms % DAY_MS
    if period == "ONE_DAY":
        return [(today - (13 - i) * DAY_MS, today - (12 - i) * DAY_MS) for i in range(14)]
    if period == "SEVEN_DAYS":
        return [(today - 6 * DAY_MS, today + DAY_MS)]
    if period == "FOURTEEN_DAYS":
        return [(today - 13 * DAY_MS, today + DAY_MS)]
    raise ValueError(period)


def _sort_part(v):
    return (0, b"") if v is None else (1, v.encode())


def expected_rows(op, records, params=None, caller=MGMT, region=R1, org=ORGANIZATION,
                  now_ms=NOW_MS):
    """Every row of the unpaginated answer, in SPEC §6 order, as boto3-shaped dicts
    (StartTime/EndTime as aware datetimes). `params` uses the AWS parameter names; only
    valid values are supported (errors are tested separately)."""
    if isinstance(op, str):
        op = OPS[op]
    params = dict(params or {})
    params.pop("MaxResults", None)
    params.pop("NextToken", None)
    period = params.get("AggregationPeriod", "ONE_DAY")
    account_mode = params.get("AccountId", caller)
    role = org_role(org, caller)
    admin = role in ("management", "delegated")
    visible = org_accounts(org) if admin else {caller}
    groups = Counter()
    for r in records:
        if r["Region"] != region:
            continue
        bucket = next((b for b in buckets(period, now_ms) if b[0] <= r["created"] < b[1]), None)
        if bucket is None or r["AccountId"] not in visible:
            continue
        if account_mode == "AGGREGATE_ALL":
            shown = "AGGREGATE_ALL"
        elif not admin:
            shown = caller               # own records only, whatever AccountId says
        elif account_mode == "ANY":
            shown = r["AccountId"]
        elif r["AccountId"] == account_mode:
            shown = account_mode
        else:
            continue
        key = [bucket, region, shown]
        keep = True
        for d in op.dims:
            mode = params.get(d, "AGGREGATE_ALL")
            value = r[d]
            if mode == "ANY":
                key.append(value)
            elif mode == "AGGREGATE_ALL":
                key.append("AGGREGATE_ALL")
            elif d == "MessageCategory":
                if value is None or value != ascii_upper(mode):
                    keep = False
                    break
                key.append(ascii_upper(mode))
            else:
                if value != mode:
                    keep = False
                    break
                key.append(mode)
        if keep:
            groups[tuple(key)] += 1
    names = ["AccountId"] + op.dims

    def order(item):
        key = item[0]
        return (key[0][0], key[1].encode()) + tuple(_sort_part(v) for v in key[2:])

    rows = []
    for key, count in sorted(groups.items(), key=order):
        row = {"Region": key[1]}
        for name, value in zip(names, key[2:]):
            if value is not None:
                row[name] = value
        row["Count"] = count
        row["StartTime"] = ms_to_dt(key[0][0])
        row["EndTime"] = ms_to_dt(key[0][1])
        rows.append(row)
    return rows


def norm_rows(rows):
    """Rows from boto3, the AWS CLI or raw JSON -> comparable dicts (times as epoch ms)."""
    out = []
    for row in rows:
        n = {}
        for k, v in row.items():
            if k in ("StartTime", "EndTime"):
                n[k] = time_to_ms(v)
            else:
                n[k] = v
        out.append(n)
    return out


def time_to_ms(v):
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            raise AssertionError(f"naive datetime {v!r}")
        return round(v.timestamp() * 1000)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(v * 1000)
    if isinstance(v, str):
        try:
            return round(float(v) * 1000)
        except ValueError:
            return parse_rfc3339_ms(v.replace("+00:00", "Z") if v.endswith("+00:00") else v)
    raise AssertionError(f"unexpected timestamp {v!r}")


def total(rows):
    return sum(r["Count"] for r in rows)


# --------------------------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------------------------

def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def fmt_rows(rows, limit=40):
    lines = []
    for r in norm_rows(rows)[:limit]:
        r = dict(r)
        for k in ("StartTime", "EndTime"):
            if k in r and isinstance(r[k], int):
                r[k] = ms_to_dt(r[k]).strftime("%m-%dT%H:%M")
        lines.append("    " + json.dumps(r, sort_keys=True))
    if len(rows) > limit:
        lines.append(f"    ... {len(rows) - limit} more")
    return "\n".join(lines) if lines else "    (none)"


def check_rows(actual, expected, what):
    if norm_rows(actual) != norm_rows(expected):
        raise AssertionError(f"{what}: rows differ\n  expected:\n{fmt_rows(expected)}\n"
                             f"  actual:\n{fmt_rows(actual)}")


class Collector:
    """Gathers many independent mismatches, then fails once with all of them."""

    def __init__(self):
        self.errors = []
        self.checked = 0

    def run(self, label, fn, *args, **kw):
        self.checked += 1
        try:
            fn(*args, **kw)
        except SetupError:
            raise  # one clear message instead of the same one for every case
        except Exception as e:  # noqa: BLE001 - reported below
            self.errors.append(f"[{label}] {type(e).__name__}: {e}")

    def done(self):
        if self.errors:
            shown = "\n".join(self.errors[:8])
            more = f"\n... and {len(self.errors) - 8} more" if len(self.errors) > 8 else ""
            raise AssertionError(
                f"{len(self.errors)} of {self.checked} cases failed:\n{shown}{more}")


# --------------------------------------------------------------------------------------------
# The binary and the server process
# --------------------------------------------------------------------------------------------

def binary():
    path = os.environ.get("BACKUP_SUMMARIES_BIN")
    if not path:
        raise RuntimeError("BACKUP_SUMMARIES_BIN is not set: point it at the built binary, "
                           "e.g. BACKUP_SUMMARIES_BIN=${CARGO_TARGET_DIR:-$PWD/target}/debug/backup-summaries")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"BACKUP_SUMMARIES_BIN={path!r} is not an executable file")
    return path


def run_bin(args, timeout=CMD_TIMEOUT, **kw):
    """Run the binary to completion (bounded); returns CompletedProcess with text output."""
    try:
        return subprocess.run([binary()] + list(args), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"`backup-summaries {' '.join(args)}` did not finish within "
                             f"{timeout}s; stderr: {e.stderr!r}") from None


_LISTEN_RE = re.compile(r"listening on (http://[^\s/]+:(\d+))")


class ServerStartError(AssertionError):
    pass


class SetupError(AssertionError):
    """A shared resource (the binary, the fixture server) could not be set up."""


class Server:
    """One `backup-summaries serve` process."""

    _running = []

    def __init__(self, proc, url, stdout_lines, stderr_lines):
        self.proc = proc
        self.url = url
        self._stdout = stdout_lines
        self._stderr = stderr_lines

    @classmethod
    def start(cls, args, now=NOW, timeout=START_TIMEOUT):
        """Start `serve --listen 127.0.0.1:0 --now NOW <args>` and wait for its listening line."""
        cmd = [binary(), "serve", "--listen", "127.0.0.1:0"]
        if now is not None:
            cmd += ["--now", now]
        cmd += list(args)
        proc, out, err, lines = _spawn(cmd)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _terminate(proc)
                raise ServerStartError(
                    f"no 'listening on http://HOST:PORT' line within {timeout}s from "
                    f"{' '.join(cmd)}\n  stdout: {''.join(out)!r}\n  stderr: {''.join(err)!r}")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:  # stdout closed: the process ended
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    _terminate(proc)
                time.sleep(0.1)
                raise ServerStartError(
                    f"serve exited (code {proc.returncode}) without a listening line: "
                    f"{' '.join(cmd)}\n  stderr: {''.join(err)!r}")
            m = _LISTEN_RE.search(line)
            if m:
                if int(m.group(2)) == 0:
                    _terminate(proc)
                    raise ServerStartError(f"listening line shows port 0: {line!r}")
                server = cls(proc, m.group(1), out, err)
                cls._running.append(server)
                return server

    def stderr(self):
        return "".join(self._stderr)

    def stop(self):
        _terminate(self.proc)
        if self in Server._running:
            Server._running.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @classmethod
    def stop_all(cls):
        for s in list(cls._running):
            s.stop()


def _spawn(cmd):
    # its own process group, so that stopping it also stops anything it started
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1,
                            start_new_session=True)
    out, err, lines = [], [], queue.Queue()

    def pump(stream, sink, q):
        for line in stream:
            sink.append(line)
            if q is not None:
                q.put(line)
        if q is not None:
            q.put(None)

    threading.Thread(target=pump, args=(proc.stdout, out, lines), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stderr, err, None), daemon=True).start()
    return proc, out, err, lines


def _terminate(proc):
    """Stop a process started by _spawn, and its process group (SIGTERM, then SIGKILL)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:  # reaped: its pid may be reused, signal nothing
            break
        try:
            os.killpg(proc.pid, sig)  # the group id is the pid: start_new_session=True
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=STOP_TIMEOUT)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        raise AssertionError(f"process {proc.pid} did not stop")


def start_expect_failure(args, timeout=START_TIMEOUT):
    """Start serve with (broken) args; it must exit non-zero, without a listening line, in time.
    Returns (exit code, stdout, stderr)."""
    cmd = [binary(), "serve", "--listen", "127.0.0.1:0", "--now", NOW] + list(args)
    proc, out, err, _ = _spawn(cmd)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _terminate(proc)
        raise AssertionError(f"serve kept running with broken input ({' '.join(args)}); "
                             f"stdout: {''.join(out)!r}") from None
    time.sleep(0.2)  # let the pump threads collect the tail
    return code, "".join(out), "".join(err)


atexit.register(Server.stop_all)

_shared = {}


def shared(name, factory):
    """A lazily built, cached resource (a server, the fixture). A failed build is cached too,
    so one broken start-up fails every test quickly instead of timing out again each time."""
    if name not in _shared:
        try:
            _shared[name] = ("ok", factory())
        except Exception as e:  # noqa: BLE001
            _shared[name] = ("err", e)
    status, value = _shared[name]
    if status == "err":
        raise SetupError(f"setup of {name!r} failed: {value}")
    return value


def fixture():
    return shared("fixture", Fixture)


def fixture_server():
    """The main server: all fixture files, the organization, --region us-east-1."""
    fx = fixture()
    return shared("fixture_server",
                  lambda: Server.start(fx.data_args() + ["--region", R1]))


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------

def boto3_client(url, account=MGMT, region=R1, validate=True):
    """A boto3 `backup` client whose access key id is `account` (secret "x")."""
    import boto3
    from botocore.config import Config
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                 read_timeout=HTTP_TIMEOUT, parameter_validation=validate)
    return boto3.session.Session().client(
        "backup", endpoint_url=url, region_name=region, aws_access_key_id=account,
        aws_secret_access_key="x", config=cfg)


def call_all(client, op, params=None, max_pages=1000):
    """Call an operation, following NextToken; returns (all rows, list of responses)."""
    if isinstance(op, str):
        op = OPS[op]
    params = dict(params or {})
    rows, responses = [], []
    for _ in range(max_pages):
        resp = getattr(client, op.method)(**params)
        responses.append(resp)
        check(op.list_key in resp, f"{op.list_key} missing from response {resp!r}")
        rows += resp[op.list_key]
        token = resp.get("NextToken")
        if not token:
            return rows, responses
        params["NextToken"] = token
    raise AssertionError(f"more than {max_pages} pages")


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"body is not JSON: {self.body[:300]!r}") from None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def raw_get(url, path, query="", account=None, region=R1, headers=None):
    """GET url+path?query with urllib. `query` is sent verbatim (build it yourself to control
    encoding and repeats). With `account`, the request is SigV4-signed like boto3 would sign it
    (access key id = account, secret "x")."""
    full = url + path + (("?" + query) if query else "")
    hdrs = dict(headers or {})
    if account is not None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        req = AWSRequest(method="GET", url=full, headers=dict(hdrs))
        SigV4Auth(Credentials(account, "x"), "backup", region).add_auth(req)
        hdrs = dict(req.headers.items())
    req = urllib.request.Request(full, headers=hdrs, method="GET")
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return RawResponse(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        finally:
            e.close()
        return RawResponse(e.code, e.headers, body)


def qs(pairs):
    """[(name, value), ...] -> percent-encoded query string (space as %20)."""
    from urllib.parse import quote
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


# --------------------------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------------------------

_TESTS = []


def test(fn):
    _TESTS.append(fn)
    return fn


def run_tests(argv=None):
    """Run every registered test (or those whose name contains one of argv's words), print
    PASS/FAIL per test and finally exactly one `N passed, M failed` line; exit 1 on failure."""
    argv = sys.argv[1:] if argv is None else argv
    passed = failed = 0
    try:
        for fn in _TESTS:
            if argv and not any(a in fn.__name__ for a in argv):
                continue
            t0 = time.monotonic()
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - every failure is reported
                failed += 1
                tb = traceback.extract_tb(e.__traceback__)
                where = next((f"{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(tb)
                              if os.path.basename(f.filename).startswith(("test_", "harness"))),
                             "?")
                print(f"FAIL {fn.__name__} ({where}): {type(e).__name__}: {e}", flush=True)
            else:
                passed += 1
                print(f"PASS {fn.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
    finally:
        Server.stop_all()
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)

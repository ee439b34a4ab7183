//! Ingest bodies (SPEC §11): what a server accepts at `POST /ingest/<kind>-jobs`, parsed into
//! the changes of one all-or-nothing request.
//!
//! A body is one of:
//! - list-API records: a whole `list-*-jobs` document or JSON Lines of its records, read by
//!   [`parse_jobs`] (SPEC §2); these changes carry no version;
//! - EventBridge events: one event, a JSON array of events, or events one after another
//!   (JSON Lines, or pretty-printed values separated by whitespace). Each event's `time` is
//!   the change's [`Version`].
//!
//! The body is events when its first JSON value (the first element, for an array) is an object
//! with a `detail-type` member (D). Events of AWS Backup's three job detail-types are read
//! (`Backup Job State Change`, `Copy Job State Change`, `Restore Job State Change`); AWS
//! documents no scan job event shape this module could be checked against, so a scan body is
//! list-API records only, and an event of any other detail-type, or of another operation
//! than the path's, is a bad record naming `detail-type`.
//!
//! Fields read from an event (every one required except `detail.messageCategory`; `null` is
//! the same as absent; unknown members are ignored):
//!
//! | event field | becomes | rule |
//! |---|---|---|
//! | `detail-type` | the operation | must be the path's operation's |
//! | `account` | AccountId | 12 digits, a string |
//! | `region` | Region | a region name |
//! | `time` | the version | RFC 3339; whole seconds since the epoch, sub-second digits truncated |
//! | `detail.backupJobId` / `copyJobId` / `restoreJobId` | the job id | 1..=256 bytes |
//! | `detail.state` (restore: `detail.status`) | State | one of the operation's states |
//! | `detail.resourceType` | ResourceType | 1..=50 characters |
//! | `detail.creationDate` | CreationDate | RFC 3339 or epoch seconds; ms precision |
//! | `detail.messageCategory` | MessageCategory | backup, copy; optional, empty is absent |
//!
//! Pure: no I/O, clock or allocation beyond the records; no input makes it panic.

use chrono::DateTime;
use serde_json::{Map, Value};

use crate::batch::Applied;
use crate::error::RecordError;
use crate::identity::{JobId, Version};
use crate::record::{AccountId, JobRecord, MessageCategory, Region, ResourceType};
use crate::schema::{Field, Operation, RecordField, State};
use crate::time::UnixMillis;
use crate::wire::error::{IngestError, Position};
use crate::wire::load::parse_jobs;
use crate::wire::response::WireResponse;

/// The UTF-8 byte order mark some tools write first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One change of an ingest body: the job's new values and, for an event, its version.
pub type Change = (JobRecord, Option<Version>);

/// Parses an ingest body for `op` (SPEC §11) into its changes, in order, all or nothing.
///
/// `default_region` fills in the region of list-API records that have none (SPEC §2);
/// events always name theirs.
///
/// # Errors
/// An [`IngestError`] for the first bad record: its position (the line an event or JSON
/// Lines record starts on, or its index in a document or array) and the field at fault.
///
/// # Examples
/// ```
/// use backup_summaries::{wire, Operation, RecordField, State};
/// let event = br#"{"version": "0", "detail-type": "Backup Job State Change", "source": "aws.backup",
///     "account": "123456789012", "time": "2026-11-26T10:00:05.9Z", "region": "eu-west-1",
///     "detail": {"backupJobId": "b-1", "state": "RUNNING", "resourceType": "EBS",
///     "creationDate": "2026-11-26T09:59:00Z"}}"#;
/// let changes = wire::parse_changes(Operation::Backup, event, None)?;
/// let (job, version) = &changes[0];
/// assert_eq!(job.state(), State::Running);
/// assert_eq!(job.region().as_str(), "eu-west-1");
/// assert_eq!(version.map(|v| v.as_secs()), Some(1_795_687_205));
/// // an event for another operation than the path's is a bad record:
/// let e = wire::parse_changes(Operation::Copy, event, None).err().ok_or("accepted")?;
/// assert_eq!(e.error().field(), Some(RecordField::DetailType));
/// assert_eq!(RecordField::DetailType.as_str(), "detail-type");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_changes(
    op: Operation,
    body: &[u8],
    default_region: Option<&Region>,
) -> Result<Vec<Change>, IngestError> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    if !starts_with_event(body) {
        return Ok(parse_jobs(op, body, default_region)?
            .into_iter()
            .map(|r| (r, None))
            .collect());
    }
    let mut changes = Vec::new();
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let mut first = true;
    loop {
        let start = values.byte_offset();
        let at = Position::Line(line_of(body, start));
        let value = match values.next() {
            None => break,
            Some(Ok(value)) => value,
            Some(Err(e)) => return Err(IngestError::new(at, None, malformed(&e.to_string()))),
        };
        match value {
            Value::Array(events) if first => {
                for (i, event) in events.into_iter().enumerate() {
                    let change = to_change(op, event)
                        .map_err(|e| IngestError::new(Position::Index(i), None, e))?;
                    changes.push(change);
                }
                if values.next().is_some() {
                    let at = Position::Line(line_of(body, values.byte_offset()));
                    return Err(IngestError::new(
                        at,
                        None,
                        malformed("a JSON array of events must be the whole body"),
                    ));
                }
                break;
            }
            event => changes.push(to_change(op, event).map_err(|e| IngestError::new(at, None, e))?),
        }
        first = false;
    }
    Ok(changes)
}

/// The path of `op`'s ingest endpoint (SPEC §11), e.g. `/ingest/backup-jobs`.
#[must_use]
pub fn ingest_path_for_operation(op: Operation) -> &'static str {
    op.wire().ingest_path
}

/// The operation whose ingest endpoint is `path`, matched exactly.
#[must_use]
pub fn operation_for_ingest_path(path: &str) -> Option<Operation> {
    Operation::ALL
        .iter()
        .copied()
        .find(|&op| ingest_path_for_operation(op) == path)
}

/// The success response of an ingest request (SPEC §11): `200`,
/// `{"Inserted":n,"Replaced":n,"Stale":n}`.
///
/// ```
/// use backup_summaries::{wire, Applied};
/// let response = wire::ingested_response("req-1", &Applied::default());
/// assert_eq!(response.body, br#"{"Inserted":0,"Replaced":0,"Stale":0}"#);
/// ```
#[must_use]
pub fn ingested_response(request_id: &str, applied: &Applied) -> WireResponse {
    let body = format!(
        r#"{{"Inserted":{},"Replaced":{},"Stale":{}}}"#,
        applied.inserted, applied.replaced, applied.stale
    );
    WireResponse::ok(request_id, body.into_bytes())
}

/// Whether the body's first JSON value (or that value's first element) is an object with a
/// `detail-type` member. Reads only that first value.
fn starts_with_event(body: &[u8]) -> bool {
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<Probe>();
    matches!(values.next(), Some(Ok(Probe(true))))
}

/// Whether a JSON value looks like an event (see [`starts_with_event`]).
struct Probe(bool);

impl<'de> serde::Deserialize<'de> for Probe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ProbeVisitor { nested: false })
    }
}

struct ProbeVisitor {
    /// Inside the top-level array: only objects count, arrays do not nest.
    nested: bool,
}

impl<'de> serde::de::Visitor<'de> for ProbeVisitor {
    type Value = Probe;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            found |= key == "detail-type";
            map.next_value::<serde::de::IgnoredAny>()?;
        }
        Ok(Probe(found))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
        if self.nested {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(Probe(false));
        }
        let first = seq.next_element_seed(ProbeSeed)?;
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Probe(first.is_some_and(|p| p.0)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Probe, E> {
        Ok(Probe(false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Probe, E> {
        Ok(Probe(false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Probe, E> {
        Ok(Probe(false))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Probe, E> {
        Ok(Probe(false))
    }
    fn visit_str<E>(self, _: &str) -> Result<Probe, E> {
        Ok(Probe(false))
    }
    fn visit_unit<E>(self) -> Result<Probe, E> {
        Ok(Probe(false))
    }
}

/// The first element of a top-level array.
struct ProbeSeed;

impl<'de> serde::de::DeserializeSeed<'de> for ProbeSeed {
    type Value = Probe;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Probe, D::Error> {
        d.deserialize_any(ProbeVisitor { nested: true })
    }
}

/// The change one event makes.
fn to_change(op: Operation, event: Value) -> Result<Change, RecordError> {
    let Value::Object(mut event) = event else {
        return Err(malformed("an event must be a JSON object"));
    };
    let detail_type = required(
        &event,
        RecordField::DetailType,
        "a job state change detail-type",
    )?;
    let names = op.wire();
    if Some(detail_type) != names.event {
        let path = names.ingest_path;
        let expected = match names.event {
            Some(event) => format!("\"{event}\" on {path}"),
            None => format!(
                "list-API {noun} records on {path} (no {noun} events)",
                noun = names.noun
            ),
        };
        return Err(RecordError::invalid(
            RecordField::DetailType,
            detail_type,
            expected,
        ));
    }
    let account = AccountId::parse(required(
        &event,
        RecordField::Account,
        "exactly 12 digits, as a string",
    )?)
    .map_err(|_| {
        RecordError::invalid(
            RecordField::Account,
            text_of(event.get(RecordField::Account.as_str())).as_str(),
            "exactly 12 digits, as a string",
        )
    })?;
    let region_text = required(&event, RecordField::EventRegion, "a region name")?;
    let region = Region::parse(region_text).map_err(|_| {
        RecordError::invalid(RecordField::EventRegion, region_text, "a region name")
    })?;
    let time = required(&event, RecordField::Time, "an RFC 3339 date-time")?;
    let version = DateTime::parse_from_rfc3339(time)
        .ok()
        .and_then(|t| Version::from_millis(UnixMillis::new(t.timestamp_millis())))
        .ok_or_else(|| {
            RecordError::invalid(
                RecordField::Time,
                time,
                "an RFC 3339 date-time from 1970 to 2106",
            )
        })?;
    let detail = match event.remove("detail") {
        Some(Value::Object(detail)) => detail,
        None | Some(Value::Null) => {
            return Err(RecordError::Missing {
                field: RecordField::Detail,
            })
        }
        Some(other) => {
            return Err(RecordError::invalid(
                RecordField::Detail,
                &other.to_string(),
                "a JSON object",
            ))
        }
    };
    let (id_field, state_field) = (names.event_job_id, names.event_state);
    let id_text = required_in(&detail, id_field, "1 to 256 bytes")?;
    let id = JobId::parse(id_text)
        .map_err(|_| RecordError::invalid(id_field, id_text, "1 to 256 bytes"))?;
    let state_text = required_in(&detail, state_field, "one of the operation's states")?;
    let state = State::parse(op, state_text)
        .ok_or_else(|| RecordError::wrong_kind(state_field, state_text, op))?;
    let resource_text = required_in(
        &detail,
        RecordField::DetailResourceType,
        "1 to 50 characters",
    )?;
    let resource_type = ResourceType::parse(resource_text).map_err(|_| {
        RecordError::invalid(
            RecordField::DetailResourceType,
            resource_text,
            "1 to 50 characters",
        )
    })?;
    let creation_date = creation_date(&detail)?;
    let mut record =
        JobRecord::new(account, region, state, resource_type, creation_date).with_job_id(Some(id));
    if op.has_field(Field::MessageCategory) {
        const FIELD: RecordField = RecordField::DetailMessageCategory;
        let category = match member(&detail, FIELD) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(
                MessageCategory::parse(s)
                    .map_err(|_| RecordError::invalid(FIELD, s, "1 to 50 characters"))?,
            ),
            Some(other) => {
                return Err(RecordError::invalid(
                    FIELD,
                    &other.to_string(),
                    "1 to 50 characters",
                ))
            }
        };
        record = record.with_message_category(category);
    }
    Ok((record, Some(version)))
}

/// `detail.creationDate`: RFC 3339 (as EventBridge sends it) or epoch seconds.
fn creation_date(detail: &Map<String, Value>) -> Result<UnixMillis, RecordError> {
    const FIELD: RecordField = RecordField::DetailCreationDate;
    const EXPECTED: &str = "an RFC 3339 date-time or epoch seconds";
    let value = match member(detail, FIELD) {
        None | Some(Value::Null) => return Err(RecordError::Missing { field: FIELD }),
        Some(v) => v,
    };
    let ms = match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| UnixMillis::new(t.timestamp_millis())),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(secs), _) => UnixMillis::from_secs(secs),
            (None, Some(secs)) if secs.is_finite() && secs.abs() < 1e14 => {
                // Whole milliseconds, truncated toward the past.
                Some(UnixMillis::new((secs * 1000.0).floor() as i64))
            }
            _ => None,
        },
        _ => None,
    };
    ms.filter(|at| at.to_datetime().is_some())
        .ok_or_else(|| RecordError::invalid(FIELD, &text_of(Some(value)), EXPECTED))
}

/// A member of the detail, by its `detail.`-prefixed field name.
fn member(detail: &Map<String, Value>, field: RecordField) -> Option<&Value> {
    let name = field.as_str();
    detail.get(name.strip_prefix("detail.").unwrap_or(name))
}

/// A required string member of the event envelope.
fn required<'m>(
    event: &'m Map<String, Value>,
    field: RecordField,
    expected: &'static str,
) -> Result<&'m str, RecordError> {
    string(event.get(field.as_str()), field, expected)
}

/// A required string member of the detail.
fn required_in<'m>(
    detail: &'m Map<String, Value>,
    field: RecordField,
    expected: &'static str,
) -> Result<&'m str, RecordError> {
    string(member(detail, field), field, expected)
}

fn string<'m>(
    value: Option<&'m Value>,
    field: RecordField,
    expected: &'static str,
) -> Result<&'m str, RecordError> {
    match value {
        None | Some(Value::Null) => Err(RecordError::Missing { field }),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(RecordError::invalid(field, &other.to_string(), expected)),
    }
}

/// A value as an error message quotes it.
fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A [`RecordError::Malformed`] with `detail`, cut to 200 characters.
fn malformed(detail: &str) -> RecordError {
    RecordError::Malformed {
        detail: detail.chars().take(200).collect::<String>().into(),
    }
}

/// The 1-based line of byte offset `at` in `body`.
fn line_of(body: &[u8], at: usize) -> usize {
    let at = at.min(body.len());
    let before = body.get(..at).unwrap_or_default();
    // Skip the whitespace before the value, so the line is where the value starts.
    let skipped = body
        .get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .filter(|&&b| b == b'\n')
        .count();
    before.iter().filter(|&&b| b == b'\n').count() + skipped + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn event(detail_type: &str, time: &str, detail: &str) -> String {
        format!(
            r#"{{"version":"0","id":"e","detail-type":"{detail_type}","source":"aws.backup","account":"123456789012","time":"{time}","region":"us-east-1","resources":[],"detail":{detail}}}"#
        )
    }

    const BACKUP: &str = r#"{"backupJobId":"b-1","state":"COMPLETED","resourceType":"EBS","creationDate":"2026-11-26T09:59:00.1239Z","messageCategory":"Success"}"#;

    #[test]
    fn one_event_array_and_lines_give_the_same_changes() -> TestResult {
        let one = event("Backup Job State Change", "2026-11-26T10:00:00Z", BACKUP);
        let single = parse_changes(Operation::Backup, one.as_bytes(), None)?;
        assert_eq!(single.len(), 1);
        let (job, version) = single.first().ok_or("no change")?;
        assert_eq!(job.creation_date().as_millis(), 1_795_687_140_123);
        assert_eq!(job.message_category().map(|c| c.as_str()), Some("SUCCESS"));
        assert_eq!(job.job_id().map(JobId::as_str), Some("b-1"));
        assert_eq!(*version, Some(Version::from_secs(1_795_687_200)));
        let array = format!("[{one},\n{one}]");
        assert_eq!(
            parse_changes(Operation::Backup, array.as_bytes(), None)?.len(),
            2
        );
        let lines = format!("{one}\n\n{one}\n");
        assert_eq!(
            parse_changes(Operation::Backup, lines.as_bytes(), None)?.len(),
            2
        );
        // pretty-printed, several values: fine too
        let pretty = "{\n  \"detail-type\": \"Backup Job State Change\",\n  \"account\": \"123456789012\",\n  \"region\": \"us-east-1\",\n  \"time\": \"2026-11-26T10:00:00Z\",\n  \"detail\": ".to_owned() + BACKUP + "\n}\n";
        assert_eq!(
            parse_changes(Operation::Backup, pretty.as_bytes(), None)?.len(),
            1
        );
        Ok(())
    }

    #[test]
    fn restore_events_read_status_and_copy_events_state() -> TestResult {
        let restore = event(
            "Restore Job State Change",
            "2026-11-26T10:00:00Z",
            r#"{"restoreJobId":"r-1","status":"RUNNING","resourceType":"EFS","creationDate":"2026-11-26T09:59:00Z"}"#,
        );
        let c = parse_changes(Operation::Restore, restore.as_bytes(), None)?;
        assert_eq!(c.first().map(|c| c.0.state()), Some(State::Running));
        let copy = event(
            "Copy Job State Change",
            "2026-11-26T10:00:00Z",
            r#"{"copyJobId":"c-1","state":"COMPLETING","resourceType":"EFS","creationDate":1795687140}"#,
        );
        let c = parse_changes(Operation::Copy, copy.as_bytes(), None)?;
        assert_eq!(c.first().map(|c| c.0.state()), Some(State::Completing));
        Ok(())
    }

    #[test]
    fn bad_events_name_the_record_and_field() -> TestResult {
        let good = event("Backup Job State Change", "2026-11-26T10:00:00Z", BACKUP);
        let cases: [(String, &str, &str); 8] = [
            (
                event("Copy Job State Change", "2026-11-26T10:00:00Z", BACKUP),
                "detail-type",
                "line 2: invalid detail-type \"Copy Job State Change\"",
            ),
            (
                event("Backup Vault State Change", "2026-11-26T10:00:00Z", BACKUP),
                "detail-type",
                "line 2",
            ),
            (
                event("Backup Job State Change", "yesterday", BACKUP),
                "time",
                "invalid time \"yesterday\"",
            ),
            (
                event(
                    "Backup Job State Change",
                    "2026-11-26T10:00:00Z",
                    r#"{"backupJobId":"b","state":"DONE","resourceType":"EBS","creationDate":"2026-11-26T09:59:00Z"}"#,
                ),
                "detail.state",
                "invalid detail.state \"DONE\" for ListBackupJobSummaries",
            ),
            (
                event(
                    "Backup Job State Change",
                    "2026-11-26T10:00:00Z",
                    r#"{"state":"RUNNING","resourceType":"EBS","creationDate":"2026-11-26T09:59:00Z"}"#,
                ),
                "detail.backupJobId",
                "missing detail.backupJobId",
            ),
            (
                event(
                    "Backup Job State Change",
                    "2026-11-26T10:00:00Z",
                    r#"{"backupJobId":"b","state":"RUNNING","resourceType":"EBS"}"#,
                ),
                "detail.creationDate",
                "missing detail.creationDate",
            ),
            (
                good.replace("123456789012", "12345"),
                "account",
                "invalid account \"12345\"",
            ),
            (
                event(
                    "Backup Job State Change",
                    "2026-11-26T10:00:00Z",
                    r#"{"backupJobId":"b","state":"RUNNING","resourceType":"","creationDate":"2026-11-26T09:59:00Z"}"#,
                ),
                "detail.resourceType",
                "invalid detail.resourceType",
            ),
        ];
        for (bad, field, message) in cases {
            let body = format!("{good}\n{bad}\n");
            let e = parse_changes(Operation::Backup, body.as_bytes(), None)
                .err()
                .ok_or_else(|| format!("accepted {bad}"))?;
            assert_eq!(
                e.error().field().map(RecordField::as_str),
                Some(field),
                "{e}"
            );
            assert!(e.to_string().contains(message), "{e} lacks {message}");
        }
        let array = format!("[{good}, 5]");
        let e = parse_changes(Operation::Backup, array.as_bytes(), None)
            .err()
            .ok_or("accepted")?;
        assert_eq!(
            e.to_string(),
            "record 1: malformed record: an event must be a JSON object"
        );
        let scan = event("Scan Job State Change", "2026-11-26T10:00:00Z", BACKUP);
        let e = parse_changes(Operation::Scan, scan.as_bytes(), None)
            .err()
            .ok_or("accepted")?;
        assert_eq!(
            e.error().field().map(RecordField::as_str),
            Some("detail-type")
        );
        Ok(())
    }

    #[test]
    fn list_api_bodies_fall_back_to_parse_jobs() -> TestResult {
        let lines = br#"{"BackupJobId":"b-1","AccountId":"123456789012","State":"RUNNING","ResourceType":"EBS","CreationDate":1795687140}"#;
        let c = parse_changes(
            Operation::Backup,
            lines,
            Region::parse("eu-west-2").ok().as_ref(),
        )?;
        let (job, version) = c.first().ok_or("no change")?;
        assert_eq!(job.region().as_str(), "eu-west-2");
        assert_eq!(*version, None);
        let doc = br#"{"BackupJobs": []}"#;
        assert!(parse_changes(Operation::Backup, doc, None)?.is_empty());
        assert!(parse_changes(Operation::Backup, b"", None)?.is_empty());
        assert!(parse_changes(Operation::Backup, b"[]", None)?.is_empty());
        Ok(())
    }

    #[test]
    fn ingest_paths_round_trip() {
        for &op in Operation::ALL {
            assert_eq!(
                operation_for_ingest_path(ingest_path_for_operation(op)),
                Some(op)
            );
        }
        assert_eq!(operation_for_ingest_path("/ingest/backup-jobs/"), None);
    }
}

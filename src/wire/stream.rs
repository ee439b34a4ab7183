//! Streaming, parallel-ready ingest of job dumps (SPEC §2): [`JobStream`] cuts a byte stream,
//! handed over in bounded buffers, into [`JobChunk`]s of whole records; each chunk parses on
//! its own (any thread) into a [`JobSink`]; [`JobStream::merge`] takes the outcomes back in
//! order, so positions and the first error are those of a serial parse.
//!
//! - **JSON Lines** are cut at line feeds. A chunk counts its own lines; the merge adds the
//!   lines of the chunks before it.
//! - **Whole documents** (`{"BackupJobs": [...]}`, a bare `[...]`, pretty or compact) are
//!   framed by a string- and escape-aware depth scanner that runs over every byte once, in
//!   order, and finds the list's elements (commas at the list's depth). Everything outside the
//!   list (the *envelope*: the head up to `[`, the closing bracket and the tail) is kept and
//!   parsed with serde: the head when the list opens (so an error there comes first), the rest
//!   at [`JobStream::finish`]. The scanner keeps a depth counter, not a stack, so nesting
//!   depth costs nothing; serde's recursion limit rejects deep records.
//! - **Records** are read by a hand-written scanner for the flat shape the list APIs print
//!   (`flat.rs`; a record laid out byte for byte like the one before it, but for its values,
//!   is read by that layout, with no key lookups), falling back to serde_json for anything
//!   unusual; both fill the same [`RawJob`](crate::wire::records::RawJob), checked once by
//!   [`check`] into borrowed [`JobFields`]. No allocation per job unless a string has
//!   escapes.
//! - **One record over several lines** (a single pretty-printed EventBridge event) with
//!   nothing after it is that one record, `record 0`, rather than malformed JSON Lines.
//! - **Limits**: a record (line or element) longer than [`MAX_RECORD_BYTES`], or an envelope
//!   that large, is an error naming its position, so `/dev/zero` stops after 64 MiB.
//!
//! No I/O here: the caller reads, and keeps the bytes a [`Cut`] did not consume at the front
//! of its next buffer.

use crate::batch::Batch;
use crate::error::RecordError;
use crate::record::{Fields, JobRecord, Region};
use crate::schema::Operation;
use crate::tally::{Key, Tally};
use crate::time::UnixMillis;
use crate::wire::error::{IngestError, Position};
use crate::wire::flat::Scanner;
use crate::wire::records::{
    check, is_json_space, jobs_member, malformed_at, malformed_detail, malformed_in_line,
    serde_document, Attempt, JobFields, JobSink, ObjectJob, RecordSink, Relocation,
};

/// Longest record (a JSON Lines line or an element of a document's list) and longest
/// document envelope accepted, in bytes: 64 MiB.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Bytes of JSON Lines per distinct cell an anonymous batch is sized for up front: a list-API
/// record is about 240 bytes, and a chunk of them (a few MiB) about half as many distinct
/// cells as records in the synthetic dumps (day, account, state, type, category). A guess
/// only: the batch grows as needed, and a smaller one costs nothing but its first growth.
const BYTES_PER_ANONYMOUS_CELL: usize = 512;

/// The UTF-8 byte order mark some tools write first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Whether staged jobs keep their job ids ([`JobChunk::stage_into`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum JobIds {
    /// Records with a job id are upserts by that id (SPEC §10).
    #[default]
    Tracked,
    /// Every record is an anonymous job: counted once, never replaced, costing no memory
    /// per job. For a dump known to hold each job once (one `list-backup-jobs` run).
    Ignored,
}

/// Stages every job of a chunk as anonymous (see [`JobIds::Ignored`]).
struct Anonymous<'b>(&'b mut Batch);

impl JobSink for Anonymous<'_> {
    fn job(&mut self, fields: &JobFields<'_>) -> Result<(), RecordError> {
        let anonymous = JobFields {
            job_id: None,
            version: None,
            ..fields.clone()
        };
        self.0.job(&anonymous)
    }
}

/// Jobs interned before their cells are counted, in a run (see [`Tally::count_run`]).
const COUNT_RUN: usize = 64;

/// Counts every job of a chunk as anonymous into a tally (see [`JobChunk::count_into`]).
struct Counting<'t, K> {
    tally: &'t mut Tally,
    keep: K,
    /// Interned, not yet counted; counted when full and when the chunk ends.
    run: Vec<Key>,
}

impl<K: Fn(UnixMillis) -> bool> JobSink for Counting<'_, K> {
    fn job(&mut self, fields: &JobFields<'_>) -> Result<(), RecordError> {
        if (self.keep)(fields.job.creation) {
            let category = fields.folded_category();
            let job = Fields {
                category: category.as_deref(),
                ..fields.job
            };
            self.run.push(self.tally.key(&job)?);
            if self.run.len() == COUNT_RUN {
                self.tally.count_run(&self.run);
                self.run.clear();
            }
        }
        Ok(())
    }
}

/// Cuts a job dump, read in bounded buffers, into chunks of whole records (see the module
/// docs), and merges the chunks' outcomes in order.
///
/// The calling contract: call [`cut`](Self::cut) with a buffer that starts with the bytes the
/// previous cut did not consume; parse every chunk of the cut (on any thread); hand each
/// outcome to [`merge`](Self::merge) in chunk order, stopping at the first error; then cut
/// again. After the last cut (`at_eof`), [`finish`](Self::finish) checks the rest of a
/// document and returns the number of jobs.
///
/// ```
/// use backup_summaries::wire::JobStream;
/// use backup_summaries::Operation;
/// let input = b"{\"AccountId\":\"123456789012\",\"State\":\"COMPLETED\",\"ResourceType\":\"EBS\",\
///     \"CreationDate\":1795690000,\"Region\":\"us-east-1\"}\n";
/// let mut stream = JobStream::new(Operation::Backup, None);
/// let cut = stream.cut(input, true, 2)?;
/// let mut records = Vec::new();
/// for chunk in cut.chunks() {
///     stream.merge(chunk.parse_records(&mut records))?;
/// }
/// assert_eq!(stream.finish()?, 1);
/// assert_eq!(records[0].resource_type().as_str(), "EBS");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JobStream {
    op: Operation,
    default_region: Option<Region>,
    max_record: usize,
    phase: Phase,
    /// Stream offset (after the byte order mark) of the first byte of the caller's buffer.
    base: usize,
    /// JSON Lines: lines in the chunks merged so far.
    lines_merged: usize,
    /// Jobs in the chunks merged so far.
    jobs: usize,
    /// An error found while cutting, reported once the chunks before it are merged.
    pending: Option<IngestError>,
}

/// The bytes of a cut that are ready to parse, as one or more chunks, and how much of the
/// buffer they (and any envelope bytes) used up.
#[derive(Debug)]
pub struct Cut<'b> {
    chunks: Vec<JobChunk<'b>>,
    consumed: usize,
}

/// Whole records of a job dump, ready to parse on any thread.
#[derive(Clone, Debug)]
pub struct JobChunk<'b> {
    bytes: &'b [u8],
    op: Operation,
    default_region: Option<Region>,
    max_record: usize,
    kind: ChunkKind,
    /// Parse every record with serde_json (benches compare the two parsers).
    serde_only: bool,
}

/// What parsing a chunk gave: the jobs and lines it held, or its first error (with a position
/// relative to the chunk, for JSON Lines). Hand it to [`JobStream::merge`].
#[derive(Debug)]
#[must_use = "merge it into the JobStream to learn the error and its position"]
pub struct ChunkDone {
    jobs: usize,
    lines: usize,
    error: Option<IngestError>,
}

impl ChunkDone {
    /// Whether the chunk stopped at a bad record (its error is reported by
    /// [`JobStream::merge`]): chunks after it need not be parsed.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

#[derive(Clone, Debug)]
enum ChunkKind {
    /// JSON Lines; positions are relative to the chunk.
    Lines,
    /// Elements of a document's list; positions are absolute.
    Elements {
        list: Option<&'static str>,
        /// Index of the first element.
        first: usize,
        spans: Vec<Span>,
    },
}

/// One element of a document's list.
#[derive(Clone, Copy, Debug)]
struct Span {
    /// Byte range in the chunk.
    start: usize,
    end: usize,
    /// Line feeds in the whole input before the element.
    line: usize,
    /// Bytes between the element and the line feed before it.
    column: usize,
}

#[derive(Debug)]
enum Phase {
    /// Nothing decided yet.
    Start,
    /// JSON Lines.
    Lines,
    /// A whole document.
    Document(Box<Frame>),
}

/// The depth scanner over a whole document.
#[derive(Debug)]
struct Frame {
    /// The list member, or `None` for a bare list.
    list: Option<&'static str>,
    /// The depth just inside the list: 1 for a bare list, 2 in an object.
    list_depth: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Stream offset of the next byte to scan.
    scanned: usize,
    /// Line feeds before `scanned`, and the offset just after the last one.
    lines: usize,
    line_start: usize,
    /// The element being scanned: its start (after `[` or `,`), line, column, index, and
    /// whether it has anything besides whitespace yet.
    element_start: usize,
    element_line: usize,
    element_column: usize,
    index: usize,
    has_content: bool,
    /// Commas seen at the list's depth.
    separators: usize,
    /// Line feeds before `[` and its column.
    open_line: usize,
    open_column: usize,
    /// Where the list closed: line feeds before the closing bracket and its column.
    closed: Option<(usize, usize)>,
    /// The document without its list's content, to parse with serde at the end.
    envelope: Vec<u8>,
}

/// Where a document's head scan ended.
enum Head {
    /// The list member's `[` is at this offset.
    List(usize),
    /// The first value ended here without the list member; whether another operation's list
    /// member was seen.
    Ended(usize, bool),
    /// More bytes are needed.
    Incomplete,
}

/// A [`JobSink`] that takes no jobs (envelopes have none).
struct NoJobs;

/// A [`JobSink`] that keeps nothing (the jobs are counted by [`ChunkDone`]).
struct Count;

impl JobStream {
    /// A stream of `op`'s jobs; `default_region` is the region of records that name none.
    #[must_use]
    pub fn new(op: Operation, default_region: Option<&Region>) -> Self {
        Self {
            op,
            default_region: default_region.cloned(),
            max_record: MAX_RECORD_BYTES,
            phase: Phase::Start,
            base: 0,
            lines_merged: 0,
            jobs: 0,
            pending: None,
        }
    }

    /// The same stream with another record size limit (tests use small ones).
    #[must_use]
    pub fn with_max_record(mut self, bytes: usize) -> Self {
        self.max_record = bytes.max(1);
        self
    }

    /// Cuts the whole records at the front of `buf` into at most `parts` chunks of about
    /// equal size. `buf` starts with the bytes the previous cut did not consume; `at_eof`
    /// says no bytes follow it. A cut may consume nothing (it needs more bytes first).
    ///
    /// # Errors
    /// A record too long, a document's head or envelope that is malformed, a document that
    /// ends early: once the chunks before it are merged.
    pub fn cut<'b>(
        &mut self,
        buf: &'b [u8],
        at_eof: bool,
        parts: usize,
    ) -> Result<Cut<'b>, IngestError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let parts = parts.max(1);
        if matches!(self.phase, Phase::Start) {
            if let Some(cut) = self.start(buf, at_eof)? {
                return Ok(cut);
            }
        }
        let cut = match &self.phase {
            Phase::Start => Cut::empty(),
            Phase::Lines => self.cut_lines(buf, at_eof, parts)?,
            Phase::Document(_) => self.cut_document(buf, at_eof, parts),
        };
        self.base += cut.consumed;
        Ok(cut)
    }

    /// A chunk of JSON Lines the caller cut itself, once the stream reads JSON Lines (after
    /// the cut that decided so; `None` before, and for a whole document). `bytes` must start
    /// where a line starts (just after a line feed, or where the last cut stopped) and end
    /// just after a line feed, or at the end of the input; the outcomes of such chunks are
    /// merged in input order, with [`merge`](Self::merge), as a cut's are. With chunks cut
    /// this way, threads can each read and parse their own part of a file (no cut between
    /// them), and a line's position still comes from the lines merged before it.
    ///
    /// ```
    /// use backup_summaries::wire::JobStream;
    /// use backup_summaries::{Operation, Tally};
    /// let good = br#"{"AccountId":"123456789012","Region":"eu-west-1","State":"COMPLETED","ResourceType":"EBS","CreationDate":1764115200}
    /// "#;
    /// let bad = br#"{"AccountId":"12","Region":"eu-west-1","State":"COMPLETED","ResourceType":"EBS","CreationDate":1764115200}
    /// "#;
    /// let mut stream = JobStream::new(Operation::Backup, None);
    /// let mut tally = Tally::new(Operation::Backup);
    /// // The first cut decides the layout: JSON Lines.
    /// for chunk in stream.cut(good, false, 1)?.chunks() {
    ///     stream.merge(chunk.count_into(&mut tally, |_| true))?;
    /// }
    /// // Two more lines, cut by the caller (say, each read by a thread of its own).
    /// let (second, third) = (stream.lines_chunk(good), stream.lines_chunk(bad));
    /// let second = second.ok_or("JSON Lines")?.count_into(&mut tally, |_| true);
    /// let third = third.ok_or("JSON Lines")?.count_into(&mut tally, |_| true);
    /// assert!(!second.failed() && third.failed());
    /// stream.merge(second)?;
    /// let error = stream.merge(third).unwrap_err();
    /// assert!(error.to_string().starts_with("line 3: invalid AccountId"), "{error}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lines_chunk<'b>(&self, bytes: &'b [u8]) -> Option<JobChunk<'b>> {
        matches!(self.phase, Phase::Lines).then(|| self.chunk(bytes, ChunkKind::Lines))
    }

    /// Takes the outcome of the next chunk, in order.
    ///
    /// # Errors
    /// The chunk's first error, at its position in the whole input.
    pub fn merge(&mut self, done: ChunkDone) -> Result<(), IngestError> {
        if let Some(e) = done.error {
            return Err(match self.phase {
                Phase::Lines => e.after_lines(self.lines_merged),
                _ => e,
            });
        }
        self.lines_merged += done.lines;
        self.jobs += done.jobs;
        Ok(())
    }

    /// Ends the stream after the last cut: checks a document's envelope (what follows its
    /// list). Returns the number of jobs.
    ///
    /// # Errors
    /// An error found by the last cut, or a malformed envelope.
    pub fn finish(&mut self) -> Result<usize, IngestError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if let Phase::Document(frame) = &self.phase {
            let Some((close_line, close_column)) = frame.closed else {
                return Err(IngestError::new(
                    Position::Index(frame.index),
                    frame.list,
                    malformed_detail("the document ended inside its list".into()),
                ));
            };
            let env_column = frame.open_column + 1;
            let relocation = Relocation {
                line: frame.open_line + 1,
                lines: close_line - frame.open_line,
                columns: close_column.saturating_sub(env_column),
            };
            let bare = frame.list.is_none();
            self.check_envelope(&frame.envelope, bare, relocation)?;
        }
        Ok(self.jobs)
    }

    /// Parses a document's envelope (its records left out) with serde, for the error a
    /// malformed one gives.
    fn check_envelope(
        &self,
        text: &[u8],
        bare: bool,
        relocation: Relocation,
    ) -> Result<(), IngestError> {
        let region = self.default_region.as_ref();
        match serde_document(self.op, text, region, bare, &mut NoJobs, relocation) {
            Attempt::Parsed(result) => result,
            // An envelope without the list member: the caller's cut already decided that.
            Attempt::NotADocument => Ok(()),
        }
    }

    /// Skips a byte order mark and decides the layout. `Some` when this call is done (a cut
    /// that consumed the mark, or that needs more bytes).
    fn start<'b>(&mut self, buf: &'b [u8], at_eof: bool) -> Result<Option<Cut<'b>>, IngestError> {
        if buf.starts_with(BOM) {
            return Ok(Some(Cut {
                chunks: Vec::new(),
                consumed: BOM.len(),
            }));
        }
        if !at_eof && buf.len() < BOM.len() && BOM.starts_with(buf) {
            return Ok(Some(Cut::empty()));
        }
        let undecided = !at_eof && buf.len() <= self.max_record;
        let Some(first) = buf.iter().position(|&b| !is_json_space(b)) else {
            if undecided {
                return Ok(Some(Cut::empty()));
            }
            self.phase = Phase::Lines;
            return Ok(None);
        };
        let open = match buf.get(first) {
            Some(b'[') => Some((None, first)),
            // The list must open within the record size limit, however the input is cut.
            Some(b'{') => match head(self.op, buf.get(..=self.max_record).unwrap_or(buf), first) {
                Head::List(open) => Some((Some(jobs_member(self.op)), open)),
                Head::Ended(end, foreign) => {
                    if foreign {
                        let head = buf.get(..end).unwrap_or_default();
                        self.check_envelope(head, false, Relocation::default())?;
                    }
                    let object = buf.get(first..end).unwrap_or_default();
                    let rest = buf.get(end..).unwrap_or_default();
                    if object.contains(&b'\n') && rest.iter().all(|&b| is_json_space(b)) {
                        // One record printed over several lines and nothing after it (a
                        // single EventBridge event, say): not JSON Lines, but one record.
                        if undecided {
                            return Ok(Some(Cut::empty()));
                        }
                        if at_eof && buf.len() <= self.max_record {
                            return Ok(Some(self.single(buf, first, end)));
                        }
                    }
                    None
                }
                Head::Incomplete if undecided => return Ok(Some(Cut::empty())),
                Head::Incomplete => None,
            },
            _ => None,
        };
        let Some((list, open)) = open else {
            self.phase = Phase::Lines;
            return Ok(None);
        };
        let head = buf.get(..=open).unwrap_or_default();
        if list.is_some() {
            // The head with the list closed at once: an error there comes before any record.
            let mut text = head.to_vec();
            text.extend_from_slice(b"]}");
            self.check_envelope(&text, false, Relocation::default())?;
        }
        let lines = count_lines(head);
        let line_start = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let after = open + 1;
        self.phase = Phase::Document(Box::new(Frame {
            list,
            list_depth: if list.is_some() { 2 } else { 1 },
            depth: if list.is_some() { 2 } else { 1 },
            in_string: false,
            escaped: false,
            scanned: after,
            lines,
            line_start,
            element_start: after,
            element_line: lines,
            element_column: after - line_start,
            index: 0,
            has_content: false,
            separators: 0,
            open_line: lines,
            open_column: open - line_start,
            closed: None,
            envelope: head.to_vec(),
        }));
        Ok(None)
    }

    /// The whole input as one record, `buf[first..end]`, at position `record 0`.
    fn single<'b>(&mut self, buf: &'b [u8], first: usize, end: usize) -> Cut<'b> {
        let before = buf.get(..first).unwrap_or_default();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let span = Span {
            start: first,
            end,
            line: count_lines(before),
            column: first - line_start,
        };
        let kind = ChunkKind::Elements {
            list: None,
            first: 0,
            spans: vec![span],
        };
        let chunk = self.chunk(buf, kind);
        self.phase = Phase::Lines;
        self.base += buf.len();
        Cut {
            chunks: vec![chunk],
            consumed: buf.len(),
        }
    }

    /// Cuts JSON Lines at the last line feed of `buf` (all of it at the end).
    fn cut_lines<'b>(
        &mut self,
        buf: &'b [u8],
        at_eof: bool,
        parts: usize,
    ) -> Result<Cut<'b>, IngestError> {
        let end = if at_eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if buf.len() > self.max_record => {
                    return Err(IngestError::new(
                        Position::Line(self.lines_merged + 1),
                        None,
                        too_long(self.max_record),
                    ));
                }
                None => return Ok(Cut::empty()),
            }
        };
        let whole = buf.get(..end).unwrap_or_default();
        let mut chunks = Vec::with_capacity(parts);
        let mut from = 0;
        for k in 1..=parts {
            let target = end * k / parts;
            let to = if k == parts {
                end
            } else {
                whole
                    .get(target.max(from)..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                    .map_or(end, |i| target.max(from) + i + 1)
            };
            if to > from {
                chunks.push(self.chunk(whole.get(from..to).unwrap_or_default(), ChunkKind::Lines));
            }
            from = to;
        }
        Ok(Cut {
            chunks,
            consumed: end,
        })
    }

    /// Scans the new bytes of a document; cuts its complete elements into chunks.
    fn cut_document<'b>(&mut self, buf: &'b [u8], at_eof: bool, parts: usize) -> Cut<'b> {
        let base = self.base;
        let max_record = self.max_record;
        let Phase::Document(frame) = &mut self.phase else {
            return Cut::empty();
        };
        let mut spans = Vec::new();
        let mut pending = None;
        if frame.closed.is_none() {
            pending = frame.scan(buf, base, &mut spans);
        }
        if frame.closed.is_some() && pending.is_none() {
            // The tail: keep it for the envelope.
            let from = frame.scanned.saturating_sub(base);
            let tail = buf.get(from..).unwrap_or_default();
            frame.scanned = base + buf.len();
            if frame.envelope.len() + tail.len() > max_record {
                pending = Some(IngestError::new(
                    Position::Line(frame.lines + 1),
                    None,
                    malformed_detail(format!(
                        "the document's members besides its list are longer than {} MiB",
                        max_record >> 20
                    )),
                ));
            } else {
                frame.envelope.extend_from_slice(tail);
            }
        }
        if pending.is_none() && frame.closed.is_none() {
            let open_len = base + buf.len() - frame.element_start;
            if open_len > max_record {
                pending = Some(IngestError::new(
                    Position::Index(frame.index),
                    frame.list,
                    too_long(max_record),
                ));
            } else if at_eof {
                if frame.has_content {
                    // The last element is cut off: its parse says why (or it is whole and the
                    // list is what was cut off).
                    spans.push(Span {
                        start: frame.element_start - base,
                        end: buf.len(),
                        line: frame.element_line,
                        column: frame.element_column,
                    });
                    frame.index += 1;
                }
                let column = base + buf.len() - frame.line_start;
                pending = Some(IngestError::new(
                    Position::Index(frame.index),
                    frame.list,
                    malformed_detail(format!(
                        "EOF while parsing a list at line {} column {column}",
                        frame.lines + 1
                    )),
                ));
            }
        }
        let consumed = if pending.is_some() || frame.closed.is_some() {
            buf.len()
        } else {
            frame.element_start - base
        };
        let first = frame.index - spans.len();
        let list = frame.list;
        self.pending = pending;
        let chunks = self.element_chunks(buf, list, first, &spans, parts);
        Cut { chunks, consumed }
    }

    /// Groups `spans` (element ranges in `buf`) into at most `parts` chunks.
    fn element_chunks<'b>(
        &self,
        buf: &'b [u8],
        list: Option<&'static str>,
        first: usize,
        spans: &[Span],
        parts: usize,
    ) -> Vec<JobChunk<'b>> {
        let (Some(head), Some(last)) = (spans.first(), spans.last()) else {
            return Vec::new();
        };
        let total = last.end - head.start;
        let mut chunks = Vec::with_capacity(parts);
        let mut group_start = 0;
        for k in 1..=parts {
            let limit = head.start + total * k / parts;
            let mut group_end = group_start;
            while let Some(s) = spans.get(group_end) {
                if k < parts && s.end > limit && group_end > group_start {
                    break;
                }
                group_end += 1;
                if k < parts && s.end >= limit {
                    break;
                }
            }
            let group = spans.get(group_start..group_end).unwrap_or_default();
            if let (Some(a), Some(b)) = (group.first(), group.last()) {
                let rebased = group
                    .iter()
                    .map(|s| Span {
                        start: s.start - a.start,
                        end: s.end - a.start,
                        ..*s
                    })
                    .collect();
                let kind = ChunkKind::Elements {
                    list,
                    first: first + group_start,
                    spans: rebased,
                };
                chunks.push(self.chunk(buf.get(a.start..b.end).unwrap_or_default(), kind));
            }
            group_start = group_end;
        }
        chunks
    }

    fn chunk<'b>(&self, bytes: &'b [u8], kind: ChunkKind) -> JobChunk<'b> {
        JobChunk {
            bytes,
            op: self.op,
            default_region: self.default_region.clone(),
            max_record: self.max_record,
            kind,
            serde_only: false,
        }
    }
}

impl Frame {
    /// Scans `buf` (whose first byte is at stream offset `base`) from `scanned` until the list
    /// closes or the bytes end, adding complete elements to `spans` (offsets in `buf`). An
    /// empty element stops the scan with its error.
    fn scan(&mut self, buf: &[u8], base: usize, spans: &mut Vec<Span>) -> Option<IngestError> {
        let from = self.scanned.saturating_sub(base);
        let bytes = buf.get(from..).unwrap_or_default();
        for (k, &b) in bytes.iter().enumerate() {
            let at = base + from + k;
            if b == b'\n' {
                self.lines += 1;
                self.line_start = at + 1;
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b' ' | b'\t' | b'\r' => {}
                b'"' => {
                    self.in_string = true;
                    self.has_content = true;
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    self.has_content = true;
                }
                b',' if self.depth == self.list_depth => {
                    if let Some(e) = self.end_element(at, base, b',', spans) {
                        self.scanned = at;
                        return Some(e);
                    }
                    self.separators += 1;
                    self.element_start = at + 1;
                    self.element_line = self.lines;
                    self.element_column = at + 1 - self.line_start;
                    self.has_content = false;
                }
                b'}' | b']' if self.depth == self.list_depth => {
                    if let Some(e) = self.end_element(at, base, b, spans) {
                        self.scanned = at;
                        return Some(e);
                    }
                    self.depth -= 1;
                    self.closed = Some((self.lines, at - self.line_start));
                    self.envelope.push(b);
                    self.scanned = at + 1;
                    self.element_start = at + 1;
                    return None;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.has_content = true;
                }
                _ => self.has_content = true,
            }
        }
        self.scanned = base + buf.len();
        None
    }

    /// Ends the element before the separator or closing bracket at `at`.
    fn end_element(
        &mut self,
        at: usize,
        base: usize,
        by: u8,
        spans: &mut Vec<Span>,
    ) -> Option<IngestError> {
        if !self.has_content {
            if by != b',' && self.separators == 0 {
                return None; // an empty list
            }
            let what = if by == b',' {
                "expected value"
            } else {
                "trailing comma"
            };
            let (line, column) = (self.lines + 1, at - self.line_start + 1);
            return Some(IngestError::new(
                Position::Index(self.index),
                self.list,
                malformed_detail(format!("{what} at line {line} column {column}")),
            ));
        }
        spans.push(Span {
            start: self.element_start - base,
            end: at - base,
            line: self.element_line,
            column: self.element_column,
        });
        self.index += 1;
        None
    }
}

impl<'b> Cut<'b> {
    fn empty() -> Self {
        Self {
            chunks: Vec::new(),
            consumed: 0,
        }
    }

    /// The chunks, in input order.
    #[must_use]
    pub fn chunks(&self) -> &[JobChunk<'b>] {
        &self.chunks
    }

    /// The chunks, in input order, owned (to move them to threads).
    #[must_use]
    pub fn into_chunks(self) -> Vec<JobChunk<'b>> {
        self.chunks
    }

    /// Bytes of the buffer used up; the caller's next buffer starts after them.
    #[must_use]
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

impl JobChunk<'_> {
    /// Bytes in the chunk.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the chunk has no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Parses the chunk's records, appending them to `records`. On error, `records` may have
    /// taken some of this chunk's jobs; the caller drops them (a batch is all or nothing).
    pub fn parse_records(&self, records: &mut Vec<JobRecord>) -> ChunkDone {
        let mut sink = RecordSink {
            records: std::mem::take(records),
        };
        let done = self.parse_into(&mut sink);
        *records = sink.records;
        done
    }

    /// Parses the chunk's records and stages them in `batch` (no record is built; names are
    /// interned straight from the input), as upserts by job id or, with
    /// [`JobIds::Ignored`], as anonymous jobs. On error, `batch` may have taken some of this
    /// chunk's jobs; the caller drops it (a batch is all or nothing).
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::wire::{JobIds, JobStream};
    /// use backup_summaries::{Batch, JobTable, Operation};
    /// let lines = br#"{"BackupJobId":"b-1","AccountId":"123456789012","Region":"us-east-1","State":"RUNNING","ResourceType":"EBS","CreationDate":1795690000}
    /// {"BackupJobId":"b-1","AccountId":"123456789012","Region":"us-east-1","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000}
    /// "#;
    /// let mut stream = JobStream::new(Operation::Backup, None);
    /// let mut batch = Batch::new(Operation::Backup);
    /// let cut = stream.cut(lines, true, 2)?;
    /// for chunk in cut.chunks() {
    ///     stream.merge(chunk.stage_into(&mut batch, JobIds::Tracked))?;
    /// }
    /// assert_eq!(stream.finish()?, 2);
    /// let mut table = JobTable::new(Operation::Backup);
    /// let applied = table.apply(batch)?;
    /// assert_eq!((applied.inserted, applied.replaced, table.len()), (1, 1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stage_into(&self, batch: &mut Batch, ids: JobIds) -> ChunkDone {
        match ids {
            JobIds::Tracked => self.parse_into(batch),
            JobIds::Ignored => {
                // Sized once rather than grown by doubling, each step rehashing every cell.
                batch.reserve_anonymous(self.bytes.len() / BYTES_PER_ANONYMOUS_CELL);
                self.parse_into(&mut Anonymous(batch))
            }
        }
    }

    /// Parses the chunk's records and counts each as an anonymous job (job ids ignored, as
    /// with [`JobIds::Ignored`]) straight into `tally`, if `keep` accepts its creation date:
    /// no [`Batch`] in between, so a worker thread can count many chunks into a tally of its
    /// own, and the tallies are added to a table once at the end
    /// ([`JobTable::add_tally`](crate::JobTable::add_tally)). With a query known beforehand,
    /// `keep` can be its [`CreationWindow`](crate::CreationWindow): jobs outside it are still
    /// parsed and checked (and counted in the [`ChunkDone`]), but not added.
    ///
    /// Unlike [`stage_into`](Self::stage_into), this is not all or nothing: after an error,
    /// `tally` holds the jobs before the failing record. Add it to a table only once
    /// [`JobStream::merge`] and [`JobStream::finish`] accepted every chunk. The records are
    /// checked against the stream's operation, and interned for `tally`'s (which should be
    /// the same: [`JobTable::add_tally`](crate::JobTable::add_tally) refuses another
    /// operation's tally).
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::wire::JobStream;
    /// use backup_summaries::{JobTable, Operation, Query, Tally, UnixMillis};
    /// let lines = br#"{"AccountId":"123456789012","Region":"eu-west-1","State":"COMPLETED","ResourceType":"EBS","CreationDate":1764115200}
    /// {"AccountId":"123456789012","Region":"eu-west-1","State":"FAILED","ResourceType":"EBS","CreationDate":1700000000}
    /// "#;
    /// let now = UnixMillis::new(1_764_201_599_000);
    /// let window = Query::builder(Operation::Backup).build()?.creation_window(now);
    /// let mut stream = JobStream::new(Operation::Backup, None);
    /// let mut tally = Tally::new(Operation::Backup);
    /// for chunk in stream.cut(lines, true, 2)?.chunks() {
    ///     stream.merge(chunk.count_into(&mut tally, |at| window.contains(at)))?;
    /// }
    /// assert_eq!(stream.finish()?, 2); // both records parsed and checked,
    /// let mut table = JobTable::new(Operation::Backup);
    /// table.add_tally(&tally)?;
    /// assert_eq!(table.len(), 1); // one of them in the window
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count_into(&self, tally: &mut Tally, keep: impl Fn(UnixMillis) -> bool) -> ChunkDone {
        let mut counting = Counting {
            tally,
            keep,
            run: Vec::with_capacity(COUNT_RUN),
        };
        let done = self.parse_into(&mut counting);
        counting.tally.count_run(&counting.run);
        done
    }

    /// Parses and checks the chunk's records without keeping them: a dry run, and the
    /// parser's own cost (no allocation per job).
    pub fn check(&self) -> ChunkDone {
        self.parse_into(&mut Count)
    }

    /// Parses the chunk's records into `sink`, stopping at the first error.
    pub(crate) fn parse_into<S: JobSink + ?Sized>(&self, sink: &mut S) -> ChunkDone {
        match &self.kind {
            ChunkKind::Lines => self.parse_lines(sink),
            ChunkKind::Elements { list, first, spans } => {
                self.parse_elements(*list, *first, spans, sink)
            }
        }
    }

    fn parse_lines<S: JobSink + ?Sized>(&self, sink: &mut S) -> ChunkDone {
        let bytes = self.bytes;
        let region = self.default_region.as_ref();
        let mut done = ChunkDone {
            jobs: 0,
            lines: 0,
            error: None,
        };
        // One UTF-8 check for the chunk; if it fails, every line goes to serde, which says
        // where.
        let text = std::str::from_utf8(bytes).ok().filter(|_| !self.serde_only);
        // One record for the fast path, reset in place per line, and the shape of the last
        // line it read (see `Scanner`).
        let mut scanner = Scanner::default();
        let mut at = 0;
        while at < bytes.len() {
            let line_no = done.lines + 1;
            let fail = |e| Some(IngestError::new(Position::Line(line_no), None, e));
            // Fast path: a flat record, then only spaces to the line feed.
            let fast = text
                .and_then(|t| t.get(at..))
                .and_then(|t| scanner.scan(t, false))
                .and_then(|n| {
                    let mut end = at + n;
                    while let Some(b' ' | b'\t' | b'\r') = bytes.get(end) {
                        end += 1;
                    }
                    matches!(bytes.get(end), None | Some(b'\n')).then_some(end)
                });
            let (end, outcome) = match fast {
                Some(end) => (
                    end,
                    Some(check(self.op, scanner.raw(), region).and_then(|f| sink.job(&f))),
                ),
                None => {
                    let end = bytes
                        .get(at..)
                        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                        .map_or(bytes.len(), |i| at + i);
                    let line = bytes.get(at..end).unwrap_or_default();
                    if line.len() > self.max_record {
                        done.error = fail(too_long(self.max_record));
                        return done;
                    }
                    if line.iter().all(|&b| is_json_space(b)) {
                        (end, None)
                    } else {
                        match serde_json::from_slice::<ObjectJob<'_>>(line) {
                            Ok(ObjectJob(raw)) => (
                                end,
                                Some(check(self.op, &raw, region).and_then(|f| sink.job(&f))),
                            ),
                            Err(e) => {
                                done.error = fail(malformed_in_line(&e));
                                return done;
                            }
                        }
                    }
                }
            };
            if end - at > self.max_record {
                done.error = fail(too_long(self.max_record));
                return done;
            }
            match outcome {
                Some(Ok(())) => done.jobs += 1,
                Some(Err(e)) => {
                    done.error = fail(e);
                    return done;
                }
                None => {}
            }
            if end < bytes.len() {
                done.lines += 1;
            }
            at = end + 1;
        }
        done
    }

    fn parse_elements<S: JobSink + ?Sized>(
        &self,
        list: Option<&'static str>,
        first: usize,
        spans: &[Span],
        sink: &mut S,
    ) -> ChunkDone {
        let region = self.default_region.as_ref();
        let mut done = ChunkDone {
            jobs: 0,
            lines: 0,
            error: None,
        };
        let text = std::str::from_utf8(self.bytes)
            .ok()
            .filter(|_| !self.serde_only);
        // One record for the fast path, reset in place per element, and the shape of the
        // last element it read (see `Scanner`).
        let mut scanner = Scanner::default();
        for (i, span) in spans.iter().enumerate() {
            let at = Position::Index(first + i);
            let record = self.bytes.get(span.start..span.end).unwrap_or_default();
            let outcome = if record.len() > self.max_record {
                Err(too_long(self.max_record))
            } else {
                let fast = text
                    .and_then(|t| t.get(span.start..span.end))
                    .and_then(|t| scanner.scan(t, true))
                    .is_some_and(|n| {
                        record
                            .get(n..)
                            .is_some_and(|r| r.iter().all(|&b| is_json_space(b)))
                    });
                if fast {
                    check(self.op, scanner.raw(), region).and_then(|f| sink.job(&f))
                } else {
                    match serde_json::from_slice::<ObjectJob<'_>>(record) {
                        Ok(ObjectJob(raw)) => {
                            check(self.op, &raw, region).and_then(|f| sink.job(&f))
                        }
                        Err(e) => {
                            let line = span.line + e.line();
                            let column = if e.line() <= 1 {
                                span.column + e.column()
                            } else {
                                e.column()
                            };
                            Err(malformed_at(&e, line, column))
                        }
                    }
                }
            };
            if let Err(e) = outcome {
                done.error = Some(IngestError::new(at, list, e));
                return done;
            }
            done.jobs += 1;
        }
        done
    }
}

impl JobSink for Count {
    fn job(&mut self, _: &JobFields<'_>) -> Result<(), RecordError> {
        Ok(())
    }
}

impl JobSink for NoJobs {
    fn job(&mut self, _: &JobFields<'_>) -> Result<(), RecordError> {
        Ok(())
    }
}

/// For `benches/parse.rs`, not part of the API: counts `op`'s jobs in `input` (JSON Lines or
/// a document), cut into `threads` chunks a cut and parsed on scoped threads, each record
/// read by the flat scanner or (`serde_only`) by serde_json.
///
/// # Errors
/// As [`parse_jobs`](crate::wire::parse_jobs).
#[doc(hidden)]
pub fn bench_count_jobs(
    op: Operation,
    input: &[u8],
    default_region: Option<&Region>,
    threads: usize,
    serde_only: bool,
) -> Result<usize, IngestError> {
    let mut stream = JobStream::new(op, default_region);
    let mut rest = input;
    loop {
        let cut = stream.cut(rest, true, threads)?;
        let consumed = cut.consumed();
        let chunks: Vec<_> = cut
            .into_chunks()
            .into_iter()
            .map(|c| JobChunk { serde_only, ..c })
            .collect();
        let outcomes: Vec<ChunkDone> = std::thread::scope(|scope| {
            #[expect(
                clippy::needless_collect,
                reason = "spawn every worker before joining any"
            )]
            let handles: Vec<_> = chunks
                .iter()
                .map(|c| scope.spawn(move || c.parse_into(&mut Count)))
                .collect();
            handles
                .into_iter()
                .zip(&chunks)
                .map(|(h, c)| h.join().unwrap_or_else(|_| c.parse_into(&mut Count)))
                .collect()
        });
        for done in outcomes {
            stream.merge(done)?;
        }
        rest = rest.get(consumed..).unwrap_or_default();
        if consumed == 0 || rest.is_empty() {
            break;
        }
    }
    stream.finish()
}

/// Scans the first value of a document (an object at `first`) for the operation's list
/// member at depth 1: a raw string key equal to the member name whose value is a list.
fn head(op: Operation, buf: &[u8], first: usize) -> Head {
    let member = jobs_member(op).as_bytes();
    let others: Vec<&[u8]> = Operation::ALL
        .iter()
        .copied()
        .filter(|&o| o != op)
        .map(|o| jobs_member(o).as_bytes())
        .collect();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let (mut expect_key, mut key_start, mut is_list, mut foreign) = (false, None, false, false);
    for (i, &b) in buf.iter().enumerate().skip(first) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if let Some(start) = key_start.take() {
                    let key = buf.get(start..i).unwrap_or_default();
                    is_list = key == member;
                    foreign |= others.contains(&key);
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if depth == 1 && expect_key {
                    key_start = Some(i + 1);
                    expect_key = false;
                } else if depth == 1 {
                    is_list = false;
                }
            }
            b'[' if depth == 1 && is_list => return Head::List(i),
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1;
                is_list = false;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Head::Ended(i + 1, foreign);
                }
            }
            b',' if depth == 1 => {
                expect_key = true;
                is_list = false;
            }
            b':' | b' ' | b'\t' | b'\n' | b'\r' | b',' => {}
            _ if depth == 1 => is_list = false,
            _ => {}
        }
    }
    Head::Incomplete
}

/// Line feeds in `bytes`.
fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// The error of a record longer than `max` bytes.
fn too_long(max: usize) -> RecordError {
    let limit = if max >= 1 << 20 {
        format!("{} MiB", max >> 20)
    } else {
        format!("{max} bytes")
    };
    malformed_detail(format!("record longer than {limit} (the limit)"))
}

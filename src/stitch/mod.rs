//! Re-joins tracebacks that Cloud Run split one line per entry.
//!
//! Cloud Run turns each stderr line into its own entry, so a Python traceback arrives as a
//! header, frame lines and an exception line from one output stream (`log_name`, service,
//! instance), microseconds to milliseconds apart. Lines that can belong to a traceback are held
//! in *runs*: the lines of one stream whose event times are chained by gaps of at most
//! [`StitchConfig::max_gap`]. A run is split into tracebacks only when it is closed, on its
//! lines sorted by (timestamp, insert id), so the result does not depend on arrival order: a
//! `gcloud logging read` export (newest first) and a live stream give the same records.
//!
//! A live run closes when an entry of its stream more than [`StitchConfig::horizon`] after it
//! in event time arrives (other streams' entries never close it, however they interleave, nor
//! do older entries of its own arriving late), when no line joined it for the horizon of clock
//! time ([`Stitcher::release_idle`]: a crashing instance's last traceback is counted within
//! seconds), on [`Stitcher::release_before`], on [`Stitcher::flush`], or when it reaches
//! [`StitchConfig::max_lines`]. A file is stitched in one sorted pass at its end, or, read a
//! slice of event time at a time, the runs no later line can join at each cut
//! ([`Stitcher::release_settled`]). Ordinary entries are never held.
//!
//! A live stitcher remembers the runs it released (see [`reopen`]): a line that arrives after
//! its run was counted reopens it, and the records counted for it are handed back to be
//! retracted ([`Stitcher::take_retracted`]), so the run is counted once, whole, as a replay
//! stitches it.

mod line;
mod reopen;

use chrono::{DateTime, TimeDelta, Utc};

use crate::entry::{parse_entry_max, Record};
use line::Kind;

/// Limits of stitching. The defaults suit Cloud Run: its split lines are microseconds apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StitchConfig {
    /// The largest event-time gap between two consecutive lines of one traceback.
    pub max_gap: TimeDelta,
    /// How far out of event-time order entries may arrive; an entry further than this from an
    /// open run closes it.
    pub horizon: TimeDelta,
    /// A run is cut at this many lines (a runaway stream cannot grow one without bound).
    pub max_lines: usize,
    /// Open runs beyond this many close oldest first (many streams failing at once).
    pub max_open: usize,
    /// Live: lines of released runs remembered at most, so a line arriving after its run was
    /// counted still joins it (oldest runs forgotten first; 0 remembers none). Set by
    /// `stitch.remember_lines`; the default here is that key's.
    pub remember_lines: usize,
}

impl Default for StitchConfig {
    fn default() -> Self {
        StitchConfig {
            max_gap: TimeDelta::milliseconds(250),
            horizon: TimeDelta::seconds(5),
            max_lines: 256,
            max_open: 1024,
            remember_lines: 16_384,
        }
    }
}

/// Holds the lines of tracebacks until they are complete.
#[derive(Debug, Default)]
pub struct Stitcher {
    config: StitchConfig,
    /// Open runs, any streams; usually none or a few, so a scan per entry is cheap.
    runs: Vec<Run>,
    /// Bounded input only: every traceback line until `flush`, which sorts and groups them,
    /// so the result does not depend on arrival order at all (a shuffled file included).
    bounded: Option<Vec<HeldLine>>,
    /// Live only: runs released (counted) recently, to reopen when a line of theirs comes.
    released: reopen::Released,
    /// Records counted for runs reopened since the last [`Stitcher::take_retracted`].
    retracted: Vec<Record>,
}

/// A traceback line a bounded stitcher holds until the end of its input: what orders it, and
/// its one-line JSON, parsed again when its run is stitched. Half the memory of the parsed
/// record, and the end stitches one run at a time instead of holding every record at once.
#[derive(Debug)]
struct HeldLine {
    /// Its stream (log, instance, service), hashed: lines sort by stream, then time.
    stream: u64,
    at: DateTime<Utc>,
    insert_id: Box<str>,
    kind: Kind,
    raw: Box<str>,
}

/// A record's stream (log, instance, service), hashed.
fn stream_of(r: &Record) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [
        r.log_name.as_str(),
        r.instance.as_deref().unwrap_or(""),
        &r.service,
    ] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    h.digest()
}

impl HeldLine {
    fn of(kind: Kind, r: Record) -> HeldLine {
        HeldLine {
            stream: stream_of(&r),
            at: r.timestamp,
            insert_id: r.insert_id.into_boxed_str(),
            kind,
            raw: r.raw.into_boxed_str(),
        }
    }
}

/// Lines of one stream chained by small gaps, sorted by (timestamp, insert id).
#[derive(Debug, Clone)]
struct Run {
    lines: Vec<(Kind, Record)>,
    /// Clock time the last line joined (a live stream); `None` when not known.
    joined: Option<DateTime<Utc>>,
}

impl Run {
    fn first(&self) -> DateTime<Utc> {
        self.lines
            .first()
            .map_or(DateTime::<Utc>::MIN_UTC, |l| l.1.timestamp)
    }
    fn last(&self) -> DateTime<Utc> {
        self.lines
            .last()
            .map_or(DateTime::<Utc>::MIN_UTC, |l| l.1.timestamp)
    }
    /// Where the run starts, to order closed runs.
    fn key(&self) -> Option<(DateTime<Utc>, &str)> {
        self.lines
            .first()
            .map(|(_, l)| (l.timestamp, l.insert_id.as_str()))
    }
    fn same_stream(&self, r: &Record) -> bool {
        self.lines.first().is_some_and(|(_, l)| {
            l.log_name == r.log_name && l.instance == r.instance && l.service == r.service
        })
    }
    /// Whether no line joined this live run for `horizon` of clock time before `now`.
    fn idle(&self, now: DateTime<Utc>, horizon: TimeDelta) -> bool {
        self.joined.is_some_and(|j| j + horizon <= now)
    }
    /// Whether a line at `t` is within `gap` of this run (and so belongs to it).
    fn reaches(&self, t: DateTime<Utc>, gap: TimeDelta) -> bool {
        self.first() - gap <= t && t <= self.last() + gap
    }
    fn insert(&mut self, kind: Kind, record: Record) {
        let key = (record.timestamp, record.insert_id.as_str());
        let at = self
            .lines
            .partition_point(|(_, l)| (l.timestamp, l.insert_id.as_str()) <= key);
        self.lines.insert(at, (kind, record));
    }
}

impl Stitcher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_config(config: StitchConfig) -> Self {
        Stitcher {
            config,
            runs: Vec::new(),
            bounded: None,
            released: reopen::Released::default(),
            retracted: Vec::new(),
        }
    }

    /// For a finite input (a replayed file): traceback lines are held until [`flush`], then
    /// grouped in one sorted pass. Memory grows with the traceback lines of the input.
    ///
    /// [`flush`]: Stitcher::flush
    pub fn bounded(config: StitchConfig) -> Self {
        Stitcher {
            bounded: Some(Vec::new()),
            ..Stitcher::with_config(config)
        }
    }

    /// Feeds one record; records that are ready go to `out`. An ordinary record goes out at
    /// once; a traceback line is held until its run closes.
    pub fn push(&mut self, record: Record, out: &mut Vec<Record>) {
        self.push_at(record, None, out);
    }

    /// [`Stitcher::push`] of a record pulled at clock time `now` (a live stream): its run is
    /// then released by [`Stitcher::release_idle`] once no line joined it for the horizon.
    pub fn push_at(&mut self, record: Record, now: Option<DateTime<Utc>>, out: &mut Vec<Record>) {
        if let Some(held) = &mut self.bounded {
            match kind_of(&record) {
                Kind::Ordinary => out.push(record),
                kind => held.push(HeldLine::of(kind, record)),
            }
            return;
        }
        // Only the record's own stream moves its runs on, and only forward in event time:
        // another instance's entries, however far in event time (a backfill interleaves
        // streams by the second), close nothing, nor does an older entry of the stream
        // arriving late. Their runs close by `release_before`, `release_idle`, `max_open` or
        // a later entry of their own stream.
        let t = record.timestamp;
        let horizon = self.config.horizon;
        self.close_where(out, |run| {
            run.same_stream(&record) && t > run.last() + horizon
        });
        let kind = kind_of(&record);
        if kind == Kind::Ordinary {
            out.push(record);
            return;
        }
        self.hold(kind, record, now, out);
    }

    /// Closes the runs no line joined for the horizon of clock time before `now`: a runtime
    /// writes a traceback's lines at once, so one that stopped growing is complete, even when
    /// its instance then writes nothing more (a crash). Runs of unknown arrival wait for
    /// `release_before`.
    pub fn release_idle(&mut self, now: DateTime<Utc>, out: &mut Vec<Record>) {
        let horizon = self.config.horizon;
        self.close_where(out, |run| run.idle(now, horizon));
    }

    /// [`Stitcher::release_idle`] of only the runs `urgent` picks, shown the records each would
    /// be counted as now. The others stay held.
    pub fn release_idle_if(
        &mut self,
        now: DateTime<Utc>,
        out: &mut Vec<Record>,
        mut urgent: impl FnMut(&[Record]) -> bool,
    ) {
        let horizon = self.config.horizon;
        let mut records = Vec::new();
        let picked: Vec<bool> = (self.runs.iter())
            .map(|run| {
                if !run.idle(now, horizon) {
                    return false;
                }
                records.clear();
                emit(run.clone(), &mut records);
                urgent(&records)
            })
            .collect();
        if !picked.contains(&true) {
            return;
        }
        let mut picked = picked.into_iter();
        let (closed, open) = self
            .runs
            .drain(..)
            .partition(|_| picked.next().unwrap_or(false));
        self.runs = open;
        self.release_all(closed, out);
    }

    /// Closes every run that ended before `watermark` (less the gap a next line could still
    /// bridge). A live pipeline calls this on a timer with `now - lateness`, so a traceback
    /// written just before a quiet spell is not held until the next entry.
    pub fn release_before(&mut self, watermark: DateTime<Utc>, out: &mut Vec<Record>) {
        let gap = self.config.max_gap;
        self.close_where(out, |run| run.last() + gap < watermark);
    }

    /// Everything still held goes to `out` (end of input or shutdown).
    pub fn flush(&mut self, out: &mut Vec<Record>) {
        self.flush_with(|records| out.append(records));
    }

    /// [`Stitcher::flush`], handing the records over a run at a time (`each` takes them out of
    /// the batch), so a long file's traceback lines are never all parsed at once.
    pub fn flush_with(&mut self, mut each: impl FnMut(&mut Vec<Record>)) {
        if let Some(held) = &mut self.bounded {
            let mut lines = std::mem::take(held);
            sort_lines(&mut lines);
            emit_sorted(lines, &self.config, &mut each);
        }
        let mut batch = Vec::new();
        self.close_where(&mut batch, |_| true);
        each(&mut batch);
    }

    /// A bounded stitcher fed a slice of event time at a time (a large file): every line before
    /// `before` has come. The chains of lines that ended more than `max_gap` before it (no
    /// later line can join them) are stitched and handed to `each` a run at a time, exactly
    /// as [`Stitcher::flush_with`] would at the end; the others stay held.
    pub fn release_settled(&mut self, before: DateTime<Utc>, each: impl FnMut(&mut Vec<Record>)) {
        let Some(held) = &mut self.bounded else {
            return;
        };
        let mut lines = std::mem::take(held);
        sort_lines(&mut lines);
        let gap = self.config.max_gap;
        let (mut settled, mut open) = (Vec::new(), Vec::new());
        let mut lines = lines.into_iter().peekable();
        while let Some(first) = lines.next() {
            let mut chain = vec![first];
            while let Some(next) = lines.next_if(|l| {
                let last = chain.last().expect("a chain has a line");
                l.stream == last.stream && l.at <= last.at + gap
            }) {
                chain.push(next);
            }
            let last = chain.last().expect("a chain has a line").at;
            if last + gap < before {
                settled.append(&mut chain);
            } else {
                open.append(&mut chain);
            }
        }
        self.bounded = Some(open);
        emit_sorted(settled, &self.config, each);
    }

    /// The event time of the earliest line a bounded stitcher still holds: a window ending
    /// after it may yet count the traceback it starts.
    pub fn earliest_held(&self) -> Option<DateTime<Utc>> {
        self.bounded.as_ref()?.iter().map(|l| l.at).min()
    }

    /// How many lines are held now (for a gauge).
    pub fn held(&self) -> usize {
        self.runs.iter().map(|r| r.lines.len()).sum::<usize>()
            + self.bounded.as_ref().map_or(0, Vec::len)
    }

    /// The records a live stitcher holds now, for a checkpoint: pushing them into a new
    /// stitcher rebuilds the same runs. (A bounded one, a replay's, is never checkpointed.)
    pub fn held_records(&self) -> impl Iterator<Item = &Record> {
        self.runs
            .iter()
            .flat_map(|r| r.lines.iter())
            .map(|(_, r)| r)
    }

    fn hold(
        &mut self,
        kind: Kind,
        record: Record,
        now: Option<DateTime<Utc>>,
        out: &mut Vec<Record>,
    ) {
        // A line of a run already counted reopens it: it is held again with this line.
        self.reopen(&record, now);
        let (t, gap) = (record.timestamp, self.config.max_gap);
        let mut matching = self
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.same_stream(&record) && r.reaches(t, gap))
            .map(|(i, _)| i);
        let Some(first) = matching.next() else {
            self.runs.push(Run {
                lines: vec![(kind, record)],
                joined: now,
            });
            self.enforce_max_open(out);
            return;
        };
        // A line can bridge the gap between two runs of its stream: they become one.
        let others: Vec<usize> = matching.collect();
        for &i in others.iter().rev() {
            let merged = self.runs.swap_remove(i);
            for (k, r) in merged.lines {
                self.runs[first].insert(k, r);
            }
        }
        self.runs[first].insert(kind, record);
        self.runs[first].joined = now.max(self.runs[first].joined);
        if self.runs[first].lines.len() >= self.config.max_lines {
            let run = self.runs.swap_remove(first);
            emit(run, out);
        }
    }

    fn enforce_max_open(&mut self, out: &mut Vec<Record>) {
        while self.runs.len() > self.config.max_open {
            let oldest = (0..self.runs.len()).min_by_key(|&i| self.runs[i].first());
            match oldest {
                Some(i) => {
                    let run = self.runs.swap_remove(i);
                    self.release(run, out);
                }
                None => break,
            }
        }
    }

    /// Closes the runs `done` picks, oldest first so the output is in a stable order.
    fn close_where(&mut self, out: &mut Vec<Record>, done: impl Fn(&Run) -> bool) {
        if !self.runs.iter().any(&done) {
            return;
        }
        let (closed, open) = self.runs.drain(..).partition(|r| done(r));
        self.runs = open;
        self.release_all(closed, out);
    }

    /// Releases `closed`, oldest first so the output is in a stable order.
    fn release_all(&mut self, mut closed: Vec<Run>, out: &mut Vec<Record>) {
        closed.sort_by(|a, b| a.key().cmp(&b.key()));
        for run in closed {
            self.release(run, out);
        }
    }
}

/// Held lines in the order runs are built from: by stream, then time.
fn sort_lines(lines: &mut [HeldLine]) {
    lines.sort_by(|a, b| (a.stream, a.at, &a.insert_id).cmp(&(b.stream, b.at, &b.insert_id)));
}

/// Stitches sorted held lines, handing the records to `each` a run at a time.
fn emit_sorted(
    lines: Vec<HeldLine>,
    config: &StitchConfig,
    mut each: impl FnMut(&mut Vec<Record>),
) {
    let mut batch = Vec::new();
    for run in sorted_runs(lines, config) {
        emit(run, &mut batch);
        each(&mut batch);
    }
}

/// Groups sorted held lines into runs, lazily: a run continues while the stream is the same,
/// the gap is within `max_gap` and the run is shorter than `max_lines`. Each line is parsed
/// again only as its run is built.
fn sorted_runs(lines: Vec<HeldLine>, config: &StitchConfig) -> impl Iterator<Item = Run> + '_ {
    let mut lines = lines.into_iter().filter_map(|l| {
        // Parsed once already, from this same text: it parses again alike.
        let record = parse_entry_max(l.raw.as_bytes(), usize::MAX).ok()?;
        Some((l.kind, record))
    });
    let mut next = lines.next();
    std::iter::from_fn(move || {
        let first = next.take()?;
        let mut run = Run {
            lines: vec![first],
            joined: None,
        };
        for (kind, record) in lines.by_ref() {
            if run.lines.len() < config.max_lines
                && run.same_stream(&record)
                && record.timestamp <= run.last() + config.max_gap
            {
                run.lines.push((kind, record));
            } else {
                next = Some((kind, record));
                break;
            }
        }
        Some(run)
    })
}

/// The part `record` can play in a split traceback. Only a `textPayload` can be a piece the
/// runtime split off (structured `jsonPayload` entries are written whole); a piece is one line
/// or a chunk of lines written at once, and it can play a part when its first or last line
/// does (a chunk may start a traceback, end one, or carry the chain phrase between two).
fn kind_of(record: &Record) -> Kind {
    let mut lines = record.message.lines().filter(|l| !l.trim().is_empty());
    // A blank entry (no line with text) is held as a blank line: it may sit inside a chain.
    let first = lines.next().unwrap_or("");
    let mut kind = line::classify(first);
    if kind == Kind::Ordinary {
        kind = lines.next_back().map_or(Kind::Ordinary, line::classify);
    }
    // Last, as it scans the whole entry: by now almost every record is known to be ordinary.
    if kind != Kind::Ordinary && !record.raw.contains("\"textPayload\"") {
        return Kind::Ordinary;
    }
    kind
}

/// Splits a closed run into tracebacks and lone pieces, in time order. The run's lines (every
/// line of every piece) are segmented as one text; pieces whose lines fall into one traceback
/// become one record.
fn emit(run: Run, out: &mut Vec<Record>) {
    let mut kinds = Vec::new();
    let mut owner = Vec::new();
    for (i, (_, r)) in run.lines.iter().enumerate() {
        // Blank lines inside a piece take no part; a piece of only blank lines is one blank
        // line (part of a chain between its sections, else emitted on its own).
        let lines: Vec<&str> = r.message.lines().filter(|l| !l.trim().is_empty()).collect();
        for l in if lines.is_empty() { vec![""] } else { lines } {
            kinds.push(line::classify(l));
            owner.push(i);
        }
    }
    // Record ranges of the segments, merged where a piece spans two segments.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (start, end) in line::segment(&kinds) {
        let (lo, hi) = (owner[start], owner[end - 1]);
        match groups.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => groups.push((lo, hi)),
        }
    }
    let mut records = run.lines.into_iter().map(|(_, r)| r);
    for (lo, hi) in groups {
        let group: Vec<Record> = records.by_ref().take(hi - lo + 1).collect();
        if let Some(record) = join(group) {
            out.push(record);
        }
    }
}

/// One record for a group of lines: the first line's identity, the lines' text joined, the
/// highest severity. Its sample entry carries the whole joined text, not the first line.
fn join(group: Vec<Record>) -> Option<Record> {
    let mut lines = group.into_iter();
    let mut first = lines.next()?;
    let mut joined = false;
    for line in lines {
        first.message.push('\n');
        first.message.push_str(&line.message);
        first.severity = first.severity.max(line.severity);
        joined = true;
    }
    if joined {
        first.raw = with_text_payload(&first.raw, &first.message);
    }
    Some(first)
}

/// `raw` (one LogEntry's JSON) with its `textPayload` replaced by `text`.
fn with_text_payload(raw: &str, text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(mut entry)) => {
            entry.insert("textPayload".into(), text.into());
            serde_json::Value::Object(entry).to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests;

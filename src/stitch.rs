//! Re-joins tracebacks that Cloud Run split one line per entry. SCAFFOLD.

use crate::entry::Record;

/// Holds the lines of a traceback until it is complete.
#[derive(Default)]
pub struct Stitcher {}

impl Stitcher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one record; records that are ready go to `out` (none while a traceback is open).
    pub fn push(&mut self, record: Record, out: &mut Vec<Record>) {
        out.push(record);
    }

    /// Everything still held goes to `out` (end of input or shutdown).
    pub fn flush(&mut self, out: &mut Vec<Record>) {
        let _ = out;
    }
}

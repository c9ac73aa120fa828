//! Lines for whoever watches the terminal, written so that a stderr that fails (a full disk,
//! a closed pipe, `2>/dev/full`) never panics the process: `eprintln!` would, and a replay
//! stopped by its own progress line would write no worklog.

use std::fmt::Display;
use std::io::Write;

/// Writes `line` and a newline to stderr. Best effort: when stderr fails there is nowhere
/// else to tell it, and what the run produces (worklogs, a checkpoint) matters more.
pub fn say(line: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

//! Reads one message per line from stdin, mines it with the `drain3` crate (default
//! configuration, no masks) and prints `cluster-id<TAB>template` per line, the shape of
//! `log-gardener parse`'s output, so the two can be timed on the same input as whole processes.

use std::io::{BufRead, Write};

fn main() -> std::io::Result<()> {
    let mut miner = drain3::Matcher::new(drain3::Config::default());
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(stdin);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        match miner.add_log_message(text) {
            Ok(t) => {
                write!(out, "{}\t", t.id())?;
                let mut words = t.tokens().iter();
                for i in 0..t.token_count() {
                    if i > 0 {
                        out.write_all(b" ")?;
                    }
                    if t.is_param(i) {
                        out.write_all(b"<*>")?;
                    } else if let Some(w) = words.next() {
                        out.write_all(w.as_bytes())?;
                    }
                }
                out.write_all(b"\n")?;
            }
            // Lines over the crate's byte limit are refused by it: echoed as their own template.
            Err(_) => writeln!(out, "-\t{text}")?,
        }
    }
    out.flush()
}

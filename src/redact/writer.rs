//! Log lines leave through the redactor too: [`InertWriter`] is the tracing writer, and every
//! line written through it (templates, details, errors, at every level) is neutralised and
//! redacted before it reaches the stream.

use std::io::{self, Write};

use super::Inert;

/// Wraps a writer (stderr) so that what is written is [`Inert`]. `tracing-subscriber`'s fmt
/// layer formats one event into a buffer and writes it at once, so each `write` is whole lines.
pub struct InertWriter<W: Write>(pub W);

impl<W: Write> Write for InertWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(Inert::new(&text).as_str().as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_redacted_and_neutralised() {
        let mut w = InertWriter(Vec::new());
        w.write_all(b"detail=\"password=hunter2 \x1b[31mx\" token: q1w2e3r4\n")
            .unwrap();
        let out = String::from_utf8(w.0).unwrap();
        assert!(!out.contains("hunter2") && !out.contains("q1w2e3r4") && !out.contains('\x1b'));
        assert!(out.ends_with('\n'));
    }
}

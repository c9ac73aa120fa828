//! The text encoding of a replay input, sniffed from its first bytes: UTF-8 (a BOM is
//! dropped) or UTF-16 LE/BE (with a BOM, or recognised by the NULs beside ASCII `[`/`{`),
//! which is transcoded to UTF-8 as it is read, so the export reader only ever sees UTF-8.
//! A compressed input (gzip, zstd, bzip2, xz, zip) is known by its magic bytes and refused
//! whole, rather than read as a stream of broken pieces; so is UTF-32 (by its BOM, or the
//! NULs beside an opening `[`/`{`), with the `iconv` command that converts it.

use std::io::{self, BufRead, BufReader, Cursor, Read};

use super::export::ReadError;

/// Read buffer: big enough that a pretty-printed entry is a few fills, small enough to ignore.
const CAPACITY: usize = 64 * 1024;

/// The encoding found at the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

/// Sniffs `input`'s encoding and returns it, the length of the BOM dropped, and the input as
/// UTF-8 text; a compressed input is [`ReadError::Compressed`].
pub fn utf8_reader<'a, R: Read + 'a>(
    mut input: R,
) -> Result<(Encoding, u64, Box<dyn BufRead + 'a>), ReadError> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match input.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let head = &head[..n];
    if let Some((format, command)) = compression(head) {
        return Err(ReadError::Compressed {
            format,
            command,
            at: None,
        });
    }
    if let Some(command) = utf32(head) {
        return Err(ReadError::Utf32 { command });
    }
    let (encoding, bom) = sniff(head);
    let rest = Cursor::new(head[bom..].to_vec()).chain(input);
    let bom = bom as u64;
    Ok(match encoding {
        Encoding::Utf8 => (
            encoding,
            bom,
            Box::new(BufReader::with_capacity(CAPACITY, rest)),
        ),
        _ => {
            let utf16 = Utf16 {
                input: BufReader::with_capacity(CAPACITY, rest),
                big_endian: encoding == Encoding::Utf16Be,
                high: None,
                out: Vec::new(),
                at: 0,
            };
            (
                encoding,
                bom,
                Box::new(BufReader::with_capacity(CAPACITY, utf16)),
            )
        }
    })
}

/// The compression format whose magic bytes `head` starts with, and the command that
/// decompresses it to stdout. None of them can start a JSON or text export: 0x1F, 0x28 and
/// 0xFD are no first byte of one, and `BZh` + a digit or `PK\x03\x04` as its first four
/// characters would be text no export writes.
fn compression(head: &[u8]) -> Option<(&'static str, &'static str)> {
    Some(match head {
        [0x1F, 0x8B, ..] => ("gzip", "gunzip -c"),
        [0x28, 0xB5, 0x2F, 0xFD, ..] => ("zstd", "zstd -dc"),
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => ("bzip2", "bzip2 -dc"),
        [0xFD, b'7', b'z', b'X', ..] => ("xz", "xz -dc"),
        [b'P', b'K', 3, 4, ..] => ("zip", "unzip -p"),
        _ => return None,
    })
}

/// [`compression`] of the bytes where a piece of text would start: bzip2's magic only with its
/// block's or end's after it, since `BZh1` could start a line of text.
pub(super) fn compression_within(head: &[u8]) -> Option<(&'static str, &'static str)> {
    compression(head).filter(|&(format, _)| {
        format != "bzip2" || matches!(head.get(4..10), Some(b"1AY&SY" | b"\x17rE8P\x90"))
    })
}

/// The command that converts a UTF-32 input to UTF-8. Asked before [`sniff`]: UTF-32 LE's
/// BOM starts with UTF-16 LE's, and its `[` with the NUL that says UTF-16 without a BOM.
fn utf32(head: &[u8]) -> Option<&'static str> {
    match head {
        [0xFF, 0xFE, 0, 0] | [b'[' | b'{', 0, 0, 0] => Some("iconv -f UTF-32LE -t UTF-8"),
        [0, 0, 0xFE, 0xFF] | [0, 0, 0, b'[' | b'{'] => Some("iconv -f UTF-32BE -t UTF-8"),
        _ => None,
    }
}

/// The encoding and the length of its BOM. Without a BOM, UTF-16 shows as a NUL beside each
/// ASCII byte of the opening `[` or `{`.
fn sniff(head: &[u8]) -> (Encoding, usize) {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => (Encoding::Utf8, 3),
        [0xFF, 0xFE, ..] => (Encoding::Utf16Le, 2),
        [0xFE, 0xFF, ..] => (Encoding::Utf16Be, 2),
        [b'[' | b'{', 0, ..] => (Encoding::Utf16Le, 0),
        [0, b'[' | b'{', ..] => (Encoding::Utf16Be, 0),
        _ => (Encoding::Utf8, 0),
    }
}

/// UTF-16 → UTF-8, a buffer at a time; an unpaired surrogate becomes U+FFFD (and is then
/// simply part of the text), an odd last byte is dropped.
struct Utf16<R> {
    input: R,
    big_endian: bool,
    /// A high surrogate waiting for its pair across a buffer boundary.
    high: Option<u16>,
    out: Vec<u8>,
    at: usize,
}

impl<R: BufRead> Utf16<R> {
    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.at = 0;
        let big_endian = self.big_endian;
        let chunk = self.input.fill_buf()?;
        if chunk.len() == 1 {
            // An odd byte: the next fill may complete the unit; at the end it is dropped.
            let first = chunk[0];
            self.input.consume(1);
            let next = self.input.fill_buf()?;
            let Some(&second) = next.first() else {
                self.flush_high();
                return Ok(());
            };
            self.input.consume(1);
            self.push_unit(unit(big_endian, [first, second]));
            return Ok(());
        }
        let even = chunk.len() & !1;
        let units: Vec<u16> = chunk[..even]
            .chunks_exact(2)
            .map(|p| unit(big_endian, [p[0], p[1]]))
            .collect();
        self.input.consume(even);
        if even == 0 {
            self.flush_high();
        }
        for u in units {
            self.push_unit(u);
        }
        Ok(())
    }

    fn push_unit(&mut self, u: u16) {
        let c = match (self.high.take(), u) {
            (None, 0xD800..=0xDBFF) => {
                self.high = Some(u);
                return;
            }
            (Some(h), 0xDC00..=0xDFFF) => {
                let c = 0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            (Some(_), _) => {
                self.push_char(char::REPLACEMENT_CHARACTER);
                return self.push_unit(u);
            }
            (None, _) => char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER),
        };
        self.push_char(c);
    }

    fn flush_high(&mut self) {
        if self.high.take().is_some() {
            self.push_char(char::REPLACEMENT_CHARACTER);
        }
    }

    fn push_char(&mut self, c: char) {
        let mut b = [0u8; 4];
        self.out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }
}

fn unit(big_endian: bool, b: [u8; 2]) -> u16 {
    if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

impl<R: BufRead> Read for Utf16<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // A fill may yield nothing (a lone high surrogate); go on until text or the end.
        while self.at == self.out.len() {
            self.refill()?;
            if self.out.is_empty() && self.input.fill_buf()?.is_empty() && self.high.is_none() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8]) -> (Encoding, String) {
        let (enc, _, mut r) = utf8_reader(bytes).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        (enc, s)
    }

    fn utf16(s: &str, be: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(s.encode_utf16());
        for u in units {
            out.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        out
    }

    #[test]
    fn compressed_inputs_are_named_by_their_magic_bytes() {
        for (head, format) in [
            (&b"\x1F\x8B\x08\x00rest"[..], "gzip"),
            (b"\x28\xB5\x2F\xFDrest", "zstd"),
            (b"BZh91AY&SY", "bzip2"),
            (b"\xFD7zXZ\x00", "xz"),
            (b"PK\x03\x04rest", "zip"),
        ] {
            match utf8_reader(head) {
                Err(ReadError::Compressed { format: f, .. }) => assert_eq!(f, format),
                other => panic!("{format}: {:?}", other.map(|(e, ..)| e)),
            }
        }
        for text in [&b"BZh"[..], b"BZhx", b"PK", b"\x1F", b"[{}]"] {
            assert!(utf8_reader(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn utf8_with_or_without_bom() {
        assert_eq!(decoded(b"[1]"), (Encoding::Utf8, "[1]".into()));
        assert_eq!(decoded(b"\xEF\xBB\xBF[1]"), (Encoding::Utf8, "[1]".into()));
        assert_eq!(decoded(b""), (Encoding::Utf8, String::new()));
        assert_eq!(decoded(b"x"), (Encoding::Utf8, "x".into()));
    }

    #[test]
    fn utf16_both_orders_with_and_without_bom_including_astral_characters() {
        let text = "[{\"textPayload\": \"héllo 🌍 wörld\"}]\n";
        for be in [false, true] {
            for bom in [false, true] {
                let (enc, got) = decoded(&utf16(text, be, bom));
                assert_eq!(got, text, "be={be} bom={bom}");
                let want = if be {
                    Encoding::Utf16Be
                } else {
                    Encoding::Utf16Le
                };
                assert_eq!(enc, want);
            }
        }
    }

    #[test]
    fn utf16_across_buffer_boundaries_and_broken_surrogates() {
        let long = "🌍".repeat(CAPACITY);
        let (_, got) = decoded(&utf16(&long, false, true));
        assert_eq!(got, long);
        let mut lone = utf16("[a", false, true);
        lone.extend(0xD800u16.to_le_bytes());
        lone.extend(utf16("b]", false, false));
        lone.push(b'x');
        assert_eq!(decoded(&lone).1, "[a\u{FFFD}b]");
    }
}

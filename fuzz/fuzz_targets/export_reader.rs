//! Any bytes as a replay file: the reader yields entries or says what it could not read, and
//! never takes more than `max` bytes for one piece. And what slicing a large file relies on
//! (`source::slice`): two objects in a row with the same structure between them (not nested
//! too deep) are read alike by a new reader started on the first one's first byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_gardener::source::export::{items, ExportReader, Item, Span};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let mut reader = ExportReader::new(data, MAX);
    let mut previous: Option<(Span, Vec<u8>)> = None;
    while let Ok(Some(item)) = reader.next_item() {
        match item {
            Item::Entry { data: entry, line } => {
                assert!(entry.len() <= MAX, "an entry past the bound at line {line}");
                let span = reader.last_span();
                if entry.first() != Some(&b'{') || span.deep {
                    previous = None;
                    continue;
                }
                if let Some((first, first_entry)) = previous.take() {
                    if first.structure == span.structure {
                        let again: Vec<Item> =
                            items(&data[first.start as usize..span.end as usize], MAX).collect();
                        let entries: Vec<&[u8]> = again
                            .iter()
                            .filter_map(|i| match i {
                                Item::Entry { data, .. } => Some(&data[..]),
                                Item::Unreadable { .. } => None,
                            })
                            .collect();
                        assert_eq!(entries, [&first_entry[..], &entry[..]]);
                    }
                }
                previous = Some((span, entry));
            }
            Item::Unreadable { detail, .. } => {
                assert!(detail.len() <= 4 * MAX);
                previous = None;
            }
        }
    }
});

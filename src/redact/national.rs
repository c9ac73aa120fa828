//! National identity numbers written in prose, each known by its check digits: a Brazilian
//! CPF (mod 11), a French NIR (97 − n mod 97), an Indian Aadhaar (Verhoeff), a Canadian SIN
//! (Luhn), a Chinese resident id (ISO 7064 mod 11-2, with its birth date), a Spanish DNI or
//! NIE (mod 23 letter), a German Steuer-ID (ISO 7064 mod 11,10, with its digit rule) and a UK
//! NINO (no check digit: its letter rules). A random run of digits passes one check in 10 to
//! 100, so without a key word only the grouped forms the documents are printed in are read
//! (not a SIN's three spaced groups, nor an unbroken NINO: counts and order numbers look so);
//! after a key word (`CPF`, `Aadhaar`, `SIN`, `身份证`…) an unbroken run is too.

use std::ops::Range;

/// Whether `value` (digits maybe grouped by spaces, dots or dashes, maybe letters) is a
/// national id whose check holds. `keyed`: a key word names it, so an unbroken run of digits
/// counts too.
pub fn national_id(value: &str, keyed: bool) -> bool {
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect();
    let grouped = compact.len() < value.len();
    let b = compact.as_bytes();
    // A NINO has no check digit: unbroken (`AB123456C`) it reads as an order or SKU number
    // unless a key word names it.
    if b.len() == 9 && b[..2].iter().all(u8::is_ascii_uppercase) {
        return (grouped || keyed) && nino(b);
    }
    if !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let digits = b.iter().all(u8::is_ascii_digit);
    match b.len() {
        // A DNI (eight digits) or an NIE (X, Y or Z and seven) and its letter.
        9 if !digits => dni(b),
        // A CPF is printed `ddd.ddd.ddd-dd`; a Steuer-ID `dd ddd ddd ddd`.
        11 if digits => {
            (value.contains('.') || keyed) && cpf(b)
                || (grouped && !value.contains('.') || keyed) && steuer_id(b)
        }
        12 if digits => (grouped || keyed) && aadhaar(b),
        // A SIN in three spaced groups passes Luhn one time in 10 as any count does
        // (`Processed 046 454 286 bytes`): dashed it is read alone, spaced after a key word.
        9 if digits => (value.contains('-') || keyed) && luhn(b),
        15 => nir(b),
        18 => china(b),
        _ => false,
    }
}

/// The longest run of `value`'s groups, from its start, that is a national id (a key word's
/// value may run on into a count: `SIN 046 454 286 2 retries`).
pub fn national_id_within(value: &str, keyed: bool) -> Option<Range<usize>> {
    let mut end = value.len();
    loop {
        if national_id(&value[..end], keyed) {
            return Some(0..end);
        }
        // Only at a space: a shorter run of a dotted or dashed number would be another one.
        end = value[..end].rfind(' ')?;
    }
}

fn digit(b: u8) -> u32 {
    u32::from(b - b'0')
}

/// Brazil's CPF: two check digits, each 11 − (weighted sum mod 11), 0 for 10 and 11.
fn cpf(b: &[u8]) -> bool {
    // All one digit passes the arithmetic and is no number the Receita issues.
    if b.iter().all(|&c| c == b[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = (0..n)
            .map(|i| digit(b[i]) * (n as u32 + 1 - i as u32))
            .sum();
        (sum * 10) % 11 % 10 == digit(b[n])
    };
    check(9) && check(10)
}

/// France's NIR: sex (1 or 2), year, month, département (Corsica's `2A` and `2B` count as 19
/// and 18, the number less one or two million), commune, order, then the key 97 − (the first
/// 13 digits mod 97).
fn nir(b: &[u8]) -> bool {
    if !matches!(b[0], b'1' | b'2') || !b[7..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = &b[3..5];
    if !month.iter().all(u8::is_ascii_digit)
        || !(1..=12).contains(&(digit(month[0]) * 10 + digit(month[1])))
    {
        return false;
    }
    let mut number = 0u64;
    for &c in &b[..13] {
        let d = match c {
            b'0'..=b'9' => u64::from(c - b'0'),
            b'A' | b'B' => 0,
            _ => return false,
        };
        number = number * 10 + d;
    }
    // Read as `20` above: 2A is 19 less a million, 2B 18 less two million.
    match &b[5..7] {
        b"2A" => number -= 2_000_000,
        b"2B" => number -= 4_000_000,
        d if !d.iter().all(u8::is_ascii_digit) => return false,
        _ => {}
    }
    let key = u64::from(digit(b[13]) * 10 + digit(b[14]));
    key == 97 - number % 97
}

/// India's Aadhaar: 12 digits, the first 2–9, the last a Verhoeff check digit.
fn aadhaar(b: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 7, 6, 8, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    if !matches!(b[0], b'2'..=b'9') {
        return false;
    }
    let c = b.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        D[usize::from(c)][usize::from(P[i % 8][usize::from(d - b'0')])]
    });
    c == 0
}

/// Luhn over digits (a Canadian SIN).
fn luhn(b: &[u8]) -> bool {
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| match (i % 2 == 1, digit(c) * 2) {
            (true, dd) if dd > 9 => dd - 9,
            (true, dd) => dd,
            (false, _) => digit(c),
        })
        .sum();
    sum.is_multiple_of(10)
}

/// China's resident id: a region (first digit 1–8), a birth date `YYYYMMDD` (19xx or 20xx), an
/// order, then ISO 7064 mod 11-2 (`X` for 10).
fn china(b: &[u8]) -> bool {
    if !b[..17].iter().all(u8::is_ascii_digit) || !matches!(b[0], b'1'..=b'8') {
        return false;
    }
    let n = |r: Range<usize>| b[r].iter().fold(0, |n, &c| n * 10 + digit(c));
    let (century, month, day) = (n(6..8), n(10..12), n(12..14));
    if !matches!(century, 19 | 20) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b.iter().zip(WEIGHTS).map(|(&c, w)| digit(c) * w).sum();
    b"10X98765432"[(sum % 11) as usize] == b[17].to_ascii_uppercase()
}

/// Spain's DNI (eight digits) or NIE (`X`, `Y`, `Z` for 0, 1, 2, then seven digits), and the
/// letter of the number mod 23.
fn dni(b: &[u8]) -> bool {
    let first = match b[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        c if c.is_ascii_digit() => digit(c),
        _ => return false,
    };
    if !b[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = b[1..8].iter().fold(first, |n, &c| n * 10 + digit(c));
    b"TRWAGMYFPDXBNJZSQVHLCKE"[(number % 23) as usize] == b[8]
}

/// Germany's Steuer-ID: 11 digits, the first not 0; in the first ten one digit occurs twice
/// or three times and every other at most once; ISO 7064 mod 11,10 checks the last.
fn steuer_id(b: &[u8]) -> bool {
    if b[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &c in &b[..10] {
        counts[(c - b'0') as usize] += 1;
    }
    let repeated = counts.iter().filter(|&&n| n > 1).count();
    if repeated != 1 || counts.iter().any(|&n| n > 3) {
        return false;
    }
    let mut product = 10;
    for &c in &b[..10] {
        let sum = match (digit(c) + product) % 10 {
            0 => 10,
            s => s,
        };
        product = sum * 2 % 11;
    }
    let check = match 11 - product {
        10 => 0,
        c => c,
    };
    check == digit(b[10])
}

/// The UK's National Insurance number: two prefix letters (not D, F, I, Q, U, V; the second
/// not O; not BG, GB, KN, NK, NT, TN, ZZ), six digits, a suffix A–D.
fn nino(b: &[u8]) -> bool {
    let (first, second) = (b[0], b[1]);
    !b"DFIQUV".contains(&first)
        && !b"DFIQUVO".contains(&second)
        && ![*b"BG", *b"GB", *b"KN", *b"NK", *b"NT", *b"TN", *b"ZZ"].contains(&[first, second])
        && b[2..8].iter().all(u8::is_ascii_digit)
        && matches!(b[8], b'A'..=b'D')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_document_by_its_check() {
        for (id, keyed) in [
            ("861.665.137-39", false),
            ("86166513739", true),
            ("1 85 05 78 006 084 91", false),
            ("185057800608491", false),
            ("2345 6789 0124", false),
            ("234567890124", true),
            ("046 454 286", true),
            ("046-454-286", false),
            ("046454286", true),
            ("11010519491231002X", false),
            ("12345678Z", false),
            ("12345678-Z", false),
            ("X1234567L", false),
            ("AB 12 34 56 C", false),
            ("AB123456C", true),
            ("86 095 742 719", false),
            ("86095742719", true),
        ] {
            assert!(national_id(id, keyed), "{id}");
        }
        for (id, keyed) in [
            // One digit off, or the check of another document.
            ("861.665.137-38", false),
            ("111.111.111-11", false),
            ("1 85 05 78 006 084 92", false),
            ("2345 6789 0123", false),
            ("1234 5678 9012", false),
            ("046 454 287", false),
            ("11010519491231002Y", false),
            ("11010519491331002X", false),
            ("12345678A", false),
            ("BG 12 34 56 C", false),
            ("AB 12 34 56 E", false),
            // Unbroken runs need a key word: an order id, an AWS account, a count.
            ("12345678901", false),
            ("86095742719", false),
            ("234567890124", false),
            ("046454286", false),
            ("046 454 286", false),
            ("AB123456C", false),
            ("XY004521B", false),
            ("12345678901", true),
        ] {
            assert!(!national_id(id, keyed), "{id}");
        }
        let v = "046 454 286 2";
        assert_eq!(
            national_id_within(v, true).map(|r| &v[r]),
            Some("046 454 286")
        );
        assert_eq!(national_id_within("046 454 287 2", true), None);
    }
}

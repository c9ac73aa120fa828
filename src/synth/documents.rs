//! Planted personal data of a sixth probe's shapes: names, postal addresses and national
//! identity numbers with valid check digits (so the redactor's checks are what is tested,
//! not its luck), drawn from digits and letters the caller picks.

/// Which document a planted national id is, and how it is printed.
#[derive(Debug, Clone, Copy)]
pub enum Document {
    /// Brazil's CPF, `ddd.ddd.ddd-dd`.
    Cpf,
    /// France's NIR, `s yy mm dd ccc ooo kk`.
    Nir,
    /// India's Aadhaar, `dddd dddd dddd`.
    Aadhaar,
    /// Canada's SIN, `ddd ddd ddd`.
    Sin,
    /// China's resident id, 18 characters.
    China,
    /// Spain's DNI, eight digits and a letter.
    Dni,
    /// The UK's NINO, `AB 12 34 56 C`.
    Nino,
    /// Germany's Steuer-ID, 11 digits unbroken.
    SteuerId,
}

/// A document's number from `digits` (at least 17 random digits) and `letter` (0–25).
pub fn document(kind: Document, digits: &[u8], letter: u8) -> String {
    let d = |i: usize| u32::from(digits[i] % 10);
    let s = |r: std::ops::Range<usize>| -> String {
        digits[r]
            .iter()
            .map(|b| char::from(b'0' + b % 10))
            .collect()
    };
    match kind {
        Document::Cpf => {
            let mut n: Vec<u32> = (0..9).map(d).collect();
            n[0] = 1 + n[0] % 9;
            for len in [9, 10] {
                let sum: u32 = (0..len).map(|i| n[i] * (len as u32 + 1 - i as u32)).sum();
                n.push(sum * 10 % 11 % 10);
            }
            let t: String = n.iter().map(|&x| char::from(b'0' + x as u8)).collect();
            format!("{}.{}.{}-{}", &t[..3], &t[3..6], &t[6..9], &t[9..])
        }
        Document::Nir => {
            let body = format!(
                "{}{}{:02}{}",
                1 + d(0) % 2,
                s(1..3),
                1 + (d(3) * 10 + d(4)) % 12,
                s(5..13)
            );
            let number: u64 = body.parse().unwrap_or(0);
            let key = 97 - number % 97;
            let t = format!("{body}{key:02}");
            format!(
                "{} {} {} {} {} {} {}",
                &t[..1],
                &t[1..3],
                &t[3..5],
                &t[5..7],
                &t[7..10],
                &t[10..13],
                &t[13..]
            )
        }
        Document::Aadhaar => {
            let mut t = format!("{}{}", 2 + d(0) % 8, s(1..11));
            t.push(char::from(b'0' + verhoeff_digit(&t)));
            format!("{} {} {}", &t[..4], &t[4..8], &t[8..])
        }
        Document::Sin => {
            let mut t = format!("{}{}", 1 + d(0) % 7, s(1..8));
            t.push(char::from(b'0' + luhn_digit(&t)));
            format!("{} {} {}", &t[..3], &t[3..6], &t[6..])
        }
        Document::China => {
            let body = format!(
                "{}{}19{}{:02}{:02}{}",
                1 + d(0) % 8,
                s(1..6),
                s(6..8),
                1 + (d(8) * 10 + d(9)) % 12,
                1 + (d(10) * 10 + d(11)) % 28,
                s(12..15)
            );
            const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
            let sum: u32 = body
                .bytes()
                .zip(WEIGHTS)
                .map(|(b, w)| u32::from(b - b'0') * w)
                .sum();
            format!("{body}{}", char::from(b"10X98765432"[(sum % 11) as usize]))
        }
        Document::Dni => {
            let t = format!("{}{}", 1 + d(0) % 9, s(1..8));
            let n: u32 = t.parse().unwrap_or(0);
            format!(
                "{t}{}",
                char::from(b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize])
            )
        }
        Document::Nino => {
            const PREFIX: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
            let a = PREFIX[usize::from(letter) % PREFIX.len()];
            let b = PREFIX[usize::from(digits[16]) % PREFIX.len()];
            // BG, GB, KN, NK, NT, TN and ZZ are never issued: A in front avoids them.
            let a = if [*b"BG", *b"GB", *b"KN", *b"NK", *b"NT", *b"TN", *b"ZZ"].contains(&[a, b]) {
                b'A'
            } else {
                a
            };
            let t = s(0..6);
            format!(
                "{}{} {} {} {} {}",
                char::from(a),
                char::from(b),
                &t[..2],
                &t[2..4],
                &t[4..],
                char::from(b'A' + letter % 4)
            )
        }
        Document::SteuerId => {
            // Ten digits, one of them twice: nine distinct digits from a shuffle, one repeated.
            let mut pool: Vec<u8> = (0..10).collect();
            for i in (1..10).rev() {
                pool.swap(i, usize::from(digits[i]) % (i + 1));
            }
            if pool[0] == 0 {
                pool.swap(0, 1);
            }
            let mut first: Vec<u8> = pool[..9].to_vec();
            first.push(first[1 + usize::from(digits[10]) % 8]);
            let mut product = 10u32;
            for &c in &first {
                let sum = match (u32::from(c) + product) % 10 {
                    0 => 10,
                    x => x,
                };
                product = sum * 2 % 11;
            }
            let check = match 11 - product {
                10 => 0,
                c => c,
            };
            first
                .iter()
                .map(|&c| char::from(b'0' + c))
                .chain(std::iter::once(char::from(b'0' + check as u8)))
                .collect()
        }
    }
}

/// The Verhoeff check digit for `digits`.
fn verhoeff_digit(digits: &str) -> u8 {
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
    const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
    let c = digits.bytes().rev().enumerate().fold(0u8, |c, (i, b)| {
        D[usize::from(c)][usize::from(P[(i + 1) % 8][usize::from(b - b'0')])]
    });
    INV[usize::from(c)]
}

/// The Luhn check digit for `digits`.
fn luhn_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| match (i % 2 == 0, u32::from(b - b'0') * 2) {
            (true, dd) if dd > 9 => dd - 9,
            (true, dd) => dd,
            (false, _) => u32::from(b - b'0'),
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

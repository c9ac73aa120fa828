//! RFC 3339 timestamps as Cloud Logging writes them: `2026-11-23T05:09:09.920493417Z`, any
//! number of fraction digits, `Z` or a numeric offset.
//!
//! The common shape is read by hand because it runs once per entry on the hot path; anything
//! unusual (lower-case `t`, a space separator) goes to chrono's parser. A leap second
//! (`23:59:60.5`) is read as the last instant of its minute (`23:59:59.999999999`): window
//! arithmetic never sees chrono's leap representation. Offsets past ±23:59 are refused.
//!
//! [`plausible`] is the sanity bound every entry's time must meet.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};

/// The instant `s` names, or `None` if it is not RFC 3339.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    let t = fast(s.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })?;
    // chrono keeps a leap second as nanoseconds past 1e9.
    Some(if t.nanosecond() >= 1_000_000_000 {
        t.with_nanosecond(999_999_999)?
    } else {
        t
    })
}

/// Years an entry may be stamped with: Cloud Logging did not exist before 2000 and keeps
/// nothing for a century; anything outside is a clock at zero or a broken field, and would
/// otherwise open windows decades away.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// How far an entry's `timestamp` may lie before its `receiveTimestamp`: Cloud Logging's
/// default retention, the oldest entry it accepts into a default bucket.
pub const BEFORE_RECEIVED: TimeDelta = TimeDelta::days(30);

/// How far after: Cloud Logging refuses entries stamped more than a day in the future.
pub const AFTER_RECEIVED: TimeDelta = TimeDelta::days(1);

/// Why `at` cannot be an entry's event time, if it cannot: outside [`YEARS`], or (when the
/// entry says when it was received) more than [`BEFORE_RECEIVED`] before or
/// [`AFTER_RECEIVED`] after that.
pub fn implausible(at: DateTime<Utc>, received: Option<DateTime<Utc>>) -> Option<String> {
    if !YEARS.contains(&at.year()) {
        return Some(format!(
            "{} is outside the years {}–{}",
            at.to_rfc3339(),
            YEARS.start(),
            YEARS.end()
        ));
    }
    let rx = received?;
    (at < rx - BEFORE_RECEIVED || at > rx + AFTER_RECEIVED).then(|| {
        format!(
            "{} is more than 30 days before or a day after its receiveTimestamp {}",
            at.to_rfc3339(),
            rx.to_rfc3339()
        )
    })
}

fn fast(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(&b[0..4])?).ok()?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let (mut nanos, rest) = fraction(&b[19..])?;
    let (minute, mut second) = (digits(&b[14..16])?, digits(&b[17..19])?);
    if second == 60 && minute == 59 {
        // A leap second: the last instant of its minute.
        (second, nanos) = (59, 999_999_999);
    }
    let time = date.and_hms_nano_opt(digits(&b[11..13])?, minute, second, nanos)?;
    let offset_secs = offset(rest)?;
    Some(time.and_utc() - TimeDelta::seconds(offset_secs))
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// `.123456789…` → nanoseconds (digits past the ninth are dropped) and what follows.
fn fraction(b: &[u8]) -> Option<(u32, &[u8])> {
    let Some(frac) = b.strip_prefix(b".") else {
        return Some((0, b));
    };
    let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let kept = &frac[..n.min(9)];
    let scale = 10u32.pow(9 - u32::try_from(kept.len()).ok()?);
    Some((digits(kept)? * scale, &frac[n..]))
}

/// `Z` or `±HH:MM` → seconds east of UTC.
fn offset(b: &[u8]) -> Option<i64> {
    match b {
        b"Z" => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let mins = i64::from(h) * 60 + i64::from(m);
            Some(if *sign == b'-' { -mins * 60 } else { mins * 60 })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn agrees_with_chrono_on_every_fraction_length() {
        for s in [
            "2026-11-23T05:09:09Z",
            "2026-11-23T05:09:09.1Z",
            "2026-11-23T05:09:09.120515Z",
            "2026-11-23T05:09:09.920493417Z",
            "2025-09-15T02:00:51.852679+00:00",
            "2025-09-15T02:00:51.852679+05:30",
            "2025-09-15T02:00:51-07:00",
            "2024-02-29T23:59:59.999999999Z",
        ] {
            assert_eq!(parse_rfc3339(s), Some(chrono(s)), "{s}");
        }
    }

    #[test]
    fn more_than_nine_fraction_digits_are_truncated() {
        let t = parse_rfc3339("2026-11-23T05:09:09.1234567891234Z").unwrap();
        assert_eq!(t, chrono("2026-11-23T05:09:09.123456789Z"));
    }

    #[test]
    fn unusual_but_valid_forms_go_to_chrono() {
        assert_eq!(
            parse_rfc3339("2026-11-23t05:09:09.5z"),
            Some(chrono("2026-11-23T05:09:09.5Z"))
        );
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for s in [
            "",
            "yesterday",
            "2026-11-23",
            "2026-13-23T05:09:09Z",
            "2026-02-30T05:09:09Z",
            "2026-11-23T25:09:09Z",
            "2026-11-23T05:09:09.Z",
            "2026-11-23T05:09:09",
            "2026-11-23T05:09:09+0100",
            "1700000000",
            "2026-11-23T05:09:09+99:99",
            "2026-11-23T05:09:09-24:00",
            "2026-11-23T05:09:09+05:60",
            "2026-11-23t05:09:09+99:99",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    #[test]
    fn a_leap_second_is_the_last_instant_of_its_minute() {
        for s in [
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2016-12-31t23:59:60.5z",
        ] {
            let t = parse_rfc3339(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(t, chrono("2016-12-31T23:59:59.999999999Z"), "{s}");
        }
    }

    #[test]
    fn implausible_times_are_named() {
        let t = chrono("2026-11-23T05:09:09Z");
        assert_eq!(implausible(t, None), None);
        assert_eq!(implausible(t, Some(t + TimeDelta::days(29))), None);
        assert!(implausible(t, Some(t + TimeDelta::days(31))).is_some());
        assert!(implausible(t, Some(t - TimeDelta::hours(25))).is_some());
        for old in [
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "2101-01-01T00:00:00Z",
        ] {
            assert!(implausible(chrono(old), None).is_some(), "{old}");
        }
    }
}

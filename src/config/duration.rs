//! Durations as people write them in config: "1h", "15m", "300s", "250ms", "1h30m".

use chrono::TimeDelta;

/// Parses a sequence of `<number><unit>` with units ms, s, m, h, d.
pub fn parse_duration(s: &str) -> Result<TimeDelta, String> {
    let bad = || {
        let s = super::echoed(s);
        format!("{s:?} is not a duration like \"1h\", \"15m\", \"30s\" or \"250ms\"")
    };
    let mut total = TimeDelta::zero();
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let unit_len = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || unit_len == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        let part = match &rest[digits..digits + unit_len] {
            "ms" => TimeDelta::try_milliseconds(n),
            "s" => TimeDelta::try_seconds(n),
            "m" => TimeDelta::try_minutes(n),
            "h" => TimeDelta::try_hours(n),
            "d" => TimeDelta::try_days(n),
            _ => None,
        };
        total = total.checked_add(&part.ok_or_else(bad)?).ok_or_else(bad)?;
        rest = &rest[digits + unit_len..];
    }
    Ok(total)
}

/// The shortest way to write `d` in the units [`parse_duration`] reads ("90m" stays "90m",
/// "1d" for a day), for messages that quote a limit.
pub fn format_duration(d: TimeDelta) -> String {
    let ms = d.num_milliseconds();
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    match units.iter().find(|(n, _)| ms != 0 && ms % n == 0) {
        Some((n, u)) => format!("{}{u}", ms / n),
        None => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_sums() {
        assert_eq!(parse_duration("1h").unwrap(), TimeDelta::hours(1));
        assert_eq!(parse_duration("15m").unwrap(), TimeDelta::minutes(15));
        assert_eq!(
            parse_duration("250ms").unwrap(),
            TimeDelta::milliseconds(250)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse_duration(" 2d ").unwrap(), TimeDelta::days(2));
    }

    #[test]
    fn formats_in_the_largest_whole_unit() {
        for (d, s) in [
            (TimeDelta::days(14), "14d"),
            (TimeDelta::minutes(90), "90m"),
            (TimeDelta::milliseconds(250), "250ms"),
            (TimeDelta::zero(), "0ms"),
        ] {
            assert_eq!(format_duration(d), s);
            assert_eq!(parse_duration(s).unwrap(), d, "round trip");
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for s in [
            "",
            "h",
            "10",
            "5 minutes",
            "1y",
            "-1h",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(s).is_err(), "{s:?} accepted");
        }
    }
}

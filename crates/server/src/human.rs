//! Durations and dates as people write and read them.

use std::time::{Duration, UNIX_EPOCH};

use passcard_jwt::UnixTime;

/// Parses a duration like `5m`, `1h 30m`, `90s` or `14d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}; write a duration like 30s, 5m, 1h or 14d"))
}

/// A duration as people write it (`5m`, `14d`), for flags: parsed with
/// [`parse_duration`], shown with [`span`] (so a default reads `5m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::fmt::Display for HumanDuration {
    /// Exactly what it holds, so that it parses back to itself: the whole
    /// seconds in every unit that has a count, then the fraction of a
    /// second in the coarsest of `ms`, `us` and `ns` that holds it whole
    /// (`1s 500ms`, `250ms`, `1500us`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (secs, nanos) = (self.0.as_secs(), self.0.subsec_nanos());
        let fraction = match nanos {
            0 => return f.write_str(&spell(secs, usize::MAX)),
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}us", n / 1_000),
            n => format!("{n}ns"),
        };
        match secs {
            0 => f.write_str(&fraction),
            _ => write!(f, "{} {fraction}", spell(secs, usize::MAX)),
        }
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s).map(Self)
    }
}

/// Parses a point in time: Unix seconds, or an RFC 3339 date.
pub fn parse_time(s: &str) -> Result<UnixTime, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(UnixTime::from_secs(secs));
    }
    let t = humantime::parse_rfc3339_weak(s).map_err(|_| {
        format!("\"{s}\" is neither a Unix time nor an RFC 3339 date like 2026-11-26T12:00:00Z")
    })?;
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("\"{s}\" is before 1970"))?
        .as_secs();
    Ok(UnixTime::from_secs(secs))
}

/// The last second RFC 3339 can write: 9999-12-31T23:59:59Z.
const LAST_DATE: u64 = 253_402_300_799;

/// An RFC 3339 UTC date for Unix seconds (`2026-11-26T22:15:31Z`); past
/// the year 9999, the seconds and "(out of range)".
pub fn date(secs: u64) -> String {
    match UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
        Some(t) if secs <= LAST_DATE => humantime::format_rfc3339_seconds(t).to_string(),
        _ => format!("{secs} (out of range)"),
    }
}

/// A span in its two largest units: `4m 12s`, `3h`, `2d 5h`.
pub fn span(secs: u64) -> String {
    spell(secs, 2)
}

/// A span in at most `most` units, largest first. Past two, every unit
/// with a count is written (`1h 30s` is exact); up to two, they are
/// adjacent (`1h 0m` reads worse than `1h`).
fn spell(secs: u64, most: usize) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, name) in UNITS {
        if rest >= size {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        } else if most <= 2 && !parts.is_empty() {
            break;
        }
        if parts.len() == most {
            break;
        }
    }
    parts.join(" ")
}

/// "expires in 4m 12s" / "expired 3h ago", relative to `now`.
pub fn expiry(exp: u64, now: UnixTime) -> String {
    let now = now.as_secs();
    if exp > now {
        format!("expires in {}", span(exp - now))
    } else {
        format!("expired {} ago", span(now - exp))
    }
}

/// "in 5m" / "5m ago", relative to `now`.
pub fn relative(t: u64, now: UnixTime) -> String {
    let now = now.as_secs();
    if t > now {
        format!("in {}", span(t - now))
    } else {
        format!("{} ago", span(now - t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_use_two_units() {
        assert_eq!(span(252), "4m 12s");
        assert_eq!(span(3 * 3600), "3h");
        assert_eq!(span(3 * 3600 + 59), "3h");
        assert_eq!(span(2 * 86_400 + 5 * 3600 + 7), "2d 5h");
        assert_eq!(span(59), "59s");
        assert_eq!(span(0), "0s");
    }

    #[test]
    fn flag_durations_read_back_as_written() {
        for s in [
            "5m", "14d", "30s", "1h 30m", "0s", "250ms", "1s 500ms", "1500us",
        ] {
            let d: HumanDuration = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
    }

    /// Found by the `settings` fuzz target: a duration with a fraction
    /// finer than a millisecond printed as whole milliseconds (`1500us 7ns`
    /// as `1ms`), which reads back as another duration.
    #[test]
    fn durations_print_exactly_what_they_hold() {
        for s in ["1500us 7ns", "1ns", "3d 1ns", "999us", "1ms 1us"] {
            let d: HumanDuration = s.parse().unwrap();
            let shown = d.to_string();
            assert_eq!(
                shown.parse::<HumanDuration>().unwrap(),
                d,
                "{s} shown as {shown}"
            );
        }
        assert_eq!(HumanDuration(Duration::new(60, 7)).to_string(), "1m 7ns");
    }

    #[test]
    fn expiry_reads_naturally() {
        let now = UnixTime::from_secs(1_000_000);
        assert_eq!(expiry(1_000_252, now), "expires in 4m 12s");
        assert_eq!(expiry(1_000_000 - 3 * 3600, now), "expired 3h ago");
        assert_eq!(relative(1_000_000 - 60, now), "1m ago");
    }

    /// Found by the `settings` fuzz target: a date past the year 9999
    /// (a token's `exp` or `nbf` can say anything) made the formatter fail,
    /// and `to_string` panic.
    #[test]
    fn dates_past_the_year_9999_are_shown_as_seconds() {
        assert_eq!(date(LAST_DATE), "9999-12-31T23:59:59Z");
        assert_eq!(date(LAST_DATE + 1), "253402300800 (out of range)");
        assert_eq!(date(25_340_230_073_499), "25340230073499 (out of range)");
        assert_eq!(date(u64::MAX), format!("{} (out of range)", u64::MAX));
    }

    #[test]
    fn times_parse_as_unix_or_rfc3339() {
        assert_eq!(parse_time("1800000000").unwrap().as_secs(), 1_800_000_000);
        assert_eq!(
            parse_time("2026-11-26T12:00:00Z").unwrap().as_secs(),
            1_795_694_400
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(date(1_795_694_400), "2026-11-26T12:00:00Z");
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("5 parsecs").is_err());
    }
}

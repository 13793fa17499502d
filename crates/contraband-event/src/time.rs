use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

#[derive(Debug, thiserror::Error)]
#[error("invalid time {input:?}: {reason}")]
pub struct TimeError {
    pub input: String,
    pub reason: String,
}

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    pub fn from_secs_f64(secs: f64) -> Timestamp {
        Timestamp((secs * 1e9) as i64)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// RFC 3339 in UTC with the precision the value needs.
    pub fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_nanosecond(self.0 as i128) {
            Ok(ts) => ts.to_string(),
            Err(_) => format!("@{}ns", self.0),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Parse the time formats telemetry uses: RFC 3339 / ISO 8601 with or without
/// an offset (no offset means UTC), a date alone, and Unix epoch seconds
/// (possibly fractional) or milliseconds/microseconds/nanoseconds by magnitude.
pub fn parse_time(input: &str) -> Result<Timestamp, TimeError> {
    let s = input.trim();
    // The common form first: it fails fast on any other.
    if let Some(ts) = parse_utc_plain(s) {
        return Ok(ts);
    }
    let err = |reason: &str| TimeError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_epoch(s).ok_or_else(|| err("not an epoch number"));
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(Timestamp(ts.as_nanosecond() as i64));
    }
    // No offset: telemetry without a zone is taken as UTC.
    let civil = s.trim_end_matches('Z').replace(' ', "T");
    if let Ok(dt) = civil.parse::<jiff::civil::DateTime>() {
        if let Ok(ts) = jiff::tz::TimeZone::UTC.to_timestamp(dt) {
            return Ok(Timestamp(ts.as_nanosecond() as i64));
        }
    }
    if let Ok(d) = civil.parse::<jiff::civil::Date>() {
        if let Ok(ts) =
            jiff::tz::TimeZone::UTC.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
        {
            return Ok(Timestamp(ts.as_nanosecond() as i64));
        }
    }
    Err(err("expected RFC 3339, a date, or epoch seconds"))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the form nearly every record's time
/// takes, read directly: jiff's general parser costs ten times as much, once
/// per event. `None` for anything else (other forms, invalid dates, leap
/// seconds), which jiff then reads. Gives what jiff gives wherever it
/// accepts (the tests compare them).
fn parse_utc_plain(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let minute_start = minute_start(b[..16].try_into().ok()?)?;
    let second = two_digits(b, 17)?;
    if b[16] != b':' || second > 59 {
        return None;
    }
    let nanos = match b[19] {
        b'Z' if b.len() == 20 => 0,
        b'.' => {
            let digits = b.len() - 21; // between `SS.` and the final `Z`
            if !(1..=9).contains(&digits) {
                return None;
            }
            let mut fraction = 0;
            for &c in &b[20..b.len() - 1] {
                fraction = fraction * 10 + i64::from(digit(c)?);
            }
            fraction * NANOS_PER_FRACTION_DIGITS[digits]
        }
        _ => return None,
    };
    let secs = minute_start + second;
    // Wraps past i64 as the jiff path's `as i64` does (years beyond 2262).
    Some(Timestamp(
        (i128::from(secs) * 1_000_000_000 + i128::from(nanos)) as i64,
    ))
}

thread_local! {
    /// The last minute [`minute_start`] read, and its answer: a stream's
    /// events come seconds apart, so most share their minute with the
    /// event before.
    static LAST_MINUTE: Cell<Option<([u8; 16], i64)>> = const { Cell::new(None) };
}

/// Seconds from the epoch to the start of `YYYY-MM-DDTHH:MM`, or `None`
/// where that is not a valid UTC minute of this form.
#[inline]
fn minute_start(b: [u8; 16]) -> Option<i64> {
    if let Some((last, secs)) = LAST_MINUTE.get() {
        if last == b {
            return Some(secs);
        }
    }
    let two = |at: usize| two_digits(&b, at);
    let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':')];
    if punctuation.iter().any(|&(at, c)| b[at] != c) {
        return None;
    }
    let (year, month, day) = (two(0)? * 100 + two(2)?, two(5)?, two(8)?);
    let (hour, minute) = (two(11)?, two(14)?);
    // Past 9998 jiff's range ends (it keeps room for offsets): its call.
    if year > 9998
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60;
    LAST_MINUTE.set(Some((b, secs)));
    Some(secs)
}

/// The value of digit `c`: one comparison, a byte below `0` wraps high.
#[inline(always)]
fn digit(c: u8) -> Option<u8> {
    let d = c.wrapping_sub(b'0');
    (d < 10).then_some(d)
}

/// The two-digit number at `at` of `b`.
#[inline(always)]
fn two_digits(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from(digit(b[at])? * 10 + digit(b[at + 1])?))
}

/// Nanoseconds one unit of a fraction of `n` digits is (`n` from 1 to 9).
const NANOS_PER_FRACTION_DIGITS: [i64; 10] = [
    0,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (the civil-from-days algorithm run backwards: years counted from March
/// so the leap day falls last, in 400-year eras).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn parse_epoch(s: &str) -> Option<Timestamp> {
    if s.contains('.') {
        let secs: f64 = s.parse().ok()?;
        return Some(Timestamp::from_secs_f64(secs));
    }
    let n: i64 = s.parse().ok()?;
    // Pick the unit by magnitude: seconds until the year 5138.
    let nanos = match n {
        n if n < 100_000_000_000 => n.checked_mul(1_000_000_000)?,
        n if n < 100_000_000_000_000 => n.checked_mul(1_000_000)?,
        n if n < 100_000_000_000_000_000 => n.checked_mul(1_000)?,
        n => n,
    };
    Some(Timestamp(nanos))
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_time(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let want = 1_700_000_000_000_000_000;
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap().0, want);
        assert_eq!(
            parse_time("2023-11-14T22:13:20.000000000Z").unwrap().0,
            want
        );
        assert_eq!(parse_time("2023-11-14T23:13:20+01:00").unwrap().0, want);
        assert_eq!(parse_time("2023-11-14 22:13:20").unwrap().0, want);
        assert_eq!(parse_time("1700000000").unwrap().0, want);
        assert_eq!(parse_time("1700000000000").unwrap().0, want);
        assert_eq!(parse_time("1700000000.5").unwrap().0, want + 500_000_000);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("").is_err());
    }

    /// What jiff makes of `s`, as `parse_time` did before its fast path.
    fn by_jiff(s: &str) -> Option<i64> {
        s.parse::<jiff::Timestamp>()
            .ok()
            .map(|ts| ts.as_nanosecond() as i64)
    }

    #[test]
    fn the_plain_utc_form_reads_as_jiff_reads_it() {
        for s in [
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "2000-02-29T12:00:00.5Z",
            "2024-02-29T00:00:00Z",
            "0000-03-01T00:00:00Z",
            "9998-12-31T23:59:59.123Z",
            "2026-11-20T00:00:03.862095Z",
        ] {
            assert_eq!(parse_utc_plain(s).map(|t| t.0), by_jiff(s), "{s}");
            assert!(parse_utc_plain(s).is_some(), "{s} takes the fast path");
        }
        for s in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2023-04-31T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-00-10T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T23:59:60Z",
            "2023-01-01T23:59:59.Z",
            "2023-01-01T23:59:59.1234567890Z",
            "2023-01-01T23:59:59+00:00",
            "2023-01-01T23:59:59ZZ",
            "9999-01-01T00:00:00Z",
            "2023-01-01t23:59:59Z",
            "2023-1-01T23:59:59Z",
            "+2023-01-01T23:59:59Z",
        ] {
            assert_eq!(parse_utc_plain(s), None, "{s}");
        }
        // Those the fast path leaves alone still parse when jiff can.
        assert_eq!(
            parse_time("2023-01-01T23:59:59+00:00").unwrap().0,
            by_jiff("2023-01-01T23:59:59+00:00").unwrap()
        );
    }

    proptest::proptest! {
        #[test]
        fn every_plain_utc_time_reads_as_jiff_reads_it(
            year in 0i64..=9999, month in 1i64..=12, day in 1i64..=31,
            hour in 0i64..=23, minute in 0i64..=59, second in 0i64..=60,
            fraction in proptest::option::of("[0-9]{1,9}"),
        ) {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            let s = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z");
            let jiff = by_jiff(&s);
            match parse_utc_plain(&s) {
                Some(ts) => proptest::prop_assert_eq!(Some(ts.0), jiff, "{}", s),
                // Refused: an invalid date, a leap second or the last
                // year, which jiff rejects or reads itself.
                None => proptest::prop_assert!(day > 28 || second == 60 || year == 9999, "{}", s),
            }
        }
    }

    #[test]
    fn a_minute_read_before_still_has_its_seconds_checked() {
        let minute = "2023-01-01T23:59";
        assert!(parse_utc_plain(&format!("{minute}:59Z")).is_some());
        for rest in [":60Z", ";59Z", ":5xZ", ":59.Z", ":59+00:00"] {
            assert_eq!(parse_utc_plain(&format!("{minute}{rest}")), None, "{rest}");
        }
        for rest in [":00Z", ":58.5Z", ":07.000000001Z"] {
            let s = format!("{minute}{rest}");
            assert_eq!(parse_utc_plain(&s).map(|t| t.0), by_jiff(&s), "{s}");
        }
        // A minute of NULs is no minute, cached or not.
        assert_eq!(
            parse_utc_plain("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0:00Z"),
            None
        );
    }

    proptest::proptest! {
        /// Times read one after another, as a stream's are: those sharing
        /// a minute with the last read the same as those that do not.
        #[test]
        fn times_in_a_row_read_as_jiff_reads_them(
            times in proptest::collection::vec(
                (0i64..3, 0i64..=60, proptest::option::of("[0-9]{1,9}")),
                1..20,
            ),
        ) {
            for (minute, second, fraction) in times {
                let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
                let s = format!("2024-02-29T23:5{minute}:{second:02}{fraction}Z");
                let plain = parse_utc_plain(&s).map(|t| t.0);
                proptest::prop_assert_eq!(plain.is_none(), second == 60, "{}", s);
                if plain.is_some() {
                    proptest::prop_assert_eq!(plain, by_jiff(&s), "{}", s);
                }
            }
        }
    }

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(
            Timestamp(1_700_000_000_000_000_000).to_rfc3339(),
            "2023-11-14T22:13:20Z"
        );
    }
}

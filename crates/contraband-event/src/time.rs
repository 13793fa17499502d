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

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(
            Timestamp(1_700_000_000_000_000_000).to_rfc3339(),
            "2023-11-14T22:13:20Z"
        );
    }
}

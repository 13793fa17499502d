//! The text of a scalar as rules and the prefilter match it: a string as
//! it is, a number as serde_json writes it, a boolean as `true` or `false`.

use std::fmt::Write;

use contraband_event::{Value, ValueRef};

/// Calls `f` with the text of scalar `v`; `None` for null, objects and
/// arrays, which are not text.
#[inline]
pub(crate) fn with_text<R>(v: ValueRef<'_>, f: impl FnOnce(&str) -> R) -> Option<R> {
    if let Some(s) = v.as_str() {
        return Some(f(s));
    }
    match v.as_json()? {
        Value::Bool(b) => Some(f(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(f(Buf::default().render(n))),
        _ => None,
    }
}

/// A number's text as serde_json writes it, integers by `itoa` (what
/// serde_json itself writes them with; a field like `LogonId` is on every
/// event) and without allocating: one is made on the stack per number read.
#[derive(Default)]
struct Buf {
    integer: itoa::Buffer,
    /// Any other number (rare), formatted.
    other: String,
}

impl Buf {
    fn render(&mut self, n: &serde_json::Number) -> &str {
        if let Some(u) = n.as_u64() {
            return self.integer.format(u);
        }
        if let Some(i) = n.as_i64() {
            return self.integer.format(i);
        }
        self.other.clear();
        let _ = write!(self.other, "{n}");
        &self.other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_numbers_as_serde_json_does() {
        let mut buf = Buf::default();
        for text in [
            "0",
            "7",
            "-1",
            "1011",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5",
            "-0.25",
            "1e300",
        ] {
            let n: serde_json::Number = serde_json::from_str(text).unwrap();
            assert_eq!(buf.render(&n), n.to_string(), "{text}");
        }
    }

    #[test]
    fn only_scalars_are_text() {
        let text = |v: &Value| with_text(ValueRef::Json(v), str::to_string);
        assert_eq!(text(&Value::from(-12)), Some("-12".into()));
        assert_eq!(text(&Value::Bool(false)), Some("false".into()));
        assert_eq!(text(&Value::from("x")), Some("x".into()));
        assert_eq!(
            with_text(ValueRef::Text("y"), str::to_string),
            Some("y".into())
        );
        assert_eq!(text(&Value::Null), None);
        assert_eq!(text(&serde_json::json!([1])), None);
    }
}

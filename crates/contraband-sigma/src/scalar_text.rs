//! The text of a scalar as rules and the prefilter match it: a string as
//! it is, a number as serde_json writes it, a boolean as `true` or `false`.

use contraband_event::{with_number_text, Value, ValueRef};

/// Calls `f` with the text of scalar `v`; `None` for null, objects and
/// arrays, which are not text.
#[inline]
pub(crate) fn with_text<R>(v: ValueRef<'_>, f: impl FnOnce(&str) -> R) -> Option<R> {
    if let Some(s) = v.as_str() {
        return Some(f(s));
    }
    match v.as_json()? {
        Value::Bool(b) => Some(f(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(with_number_text(n, f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_numbers_as_serde_json_does() {
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
            let rendered = with_text(ValueRef::Json(&Value::Number(n.clone())), str::to_string);
            assert_eq!(rendered, Some(n.to_string()), "{text}");
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

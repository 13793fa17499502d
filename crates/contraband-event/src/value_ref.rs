//! A borrowed value of an event, as readers (rules, the prefilter,
//! enrichment) see it.

use serde::{Serialize, Serializer};
use serde_json::Value;

/// One value of an event. A plain string read from a record stays where it
/// is in the record's text ([`ValueRef::Text`]) until something needs it as
/// JSON; everything else is a JSON value. The two spellings of a string
/// are the same value: readers go through [`ValueRef::as_str`], and
/// equality and serialization do not tell them apart.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    /// A string, unescaped.
    Text(&'a str),
    Json(&'a Value),
}

impl<'a> ValueRef<'a> {
    /// The value as a string, if it is one.
    #[inline]
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            ValueRef::Text(s) => Some(s),
            ValueRef::Json(Value::String(s)) => Some(s),
            ValueRef::Json(_) => None,
        }
    }

    /// The value if it is held as JSON (not a string kept as text).
    #[inline]
    pub fn as_json(self) -> Option<&'a Value> {
        match self {
            ValueRef::Text(_) => None,
            ValueRef::Json(v) => Some(v),
        }
    }

    pub fn is_null(self) -> bool {
        matches!(self, ValueRef::Json(Value::Null))
    }

    /// An owned copy, as JSON.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Text(s) => Value::String(s.to_owned()),
            ValueRef::Json(v) => v.clone(),
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> ValueRef<'a> {
        ValueRef::Json(v)
    }
}

impl PartialEq for ValueRef<'_> {
    fn eq(&self, other: &ValueRef<'_>) -> bool {
        match (self.as_str(), other.as_str()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.as_json() == other.as_json(),
            _ => false,
        }
    }
}

impl PartialEq<Value> for ValueRef<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == ValueRef::Json(other)
    }
}

impl Serialize for ValueRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ValueRef::Text(text) => s.serialize_str(text),
            ValueRef::Json(v) => v.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_json_strings_are_one_value() {
        let json = json!("x");
        let (text, json) = (ValueRef::Text("x"), ValueRef::Json(&json));
        assert_eq!(text, json);
        assert_eq!(text.as_str(), Some("x"));
        assert_eq!(text.as_json(), None);
        assert_eq!(text.to_value(), json!("x"));
        assert_eq!(serde_json::to_string(&text).unwrap(), r#""x""#);
        assert_ne!(text, ValueRef::Text("y"));
        assert_ne!(ValueRef::Text("1"), ValueRef::Json(&json!(1)));
        assert!(ValueRef::Json(&Value::Null).is_null());
        assert!(!ValueRef::Text("null").is_null());
    }
}

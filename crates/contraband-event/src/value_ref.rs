//! A borrowed value of an event, as readers (rules, the prefilter,
//! enrichment) see it.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::tree::TreeRef;

/// One value of an event. A plain string read from a record stays where it
/// is in the record's text ([`ValueRef::Text`]), and a nested object or
/// array read from it is a tree of such places ([`ValueRef::Tree`]), until
/// something needs them as JSON; everything else is a JSON value. The
/// spellings of one value are the same value: readers go through
/// [`ValueRef::as_str`] and [`ValueRef::get`], and equality and
/// serialization do not tell them apart.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    /// A string, unescaped.
    Text(&'a str),
    Json(&'a Value),
    /// An object, or an array with elements.
    Tree(TreeRef<'a>),
}

impl<'a> ValueRef<'a> {
    /// The value as a string, if it is one.
    #[inline]
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            ValueRef::Text(s) => Some(s),
            ValueRef::Json(Value::String(s)) => Some(s),
            ValueRef::Json(_) | ValueRef::Tree(_) => None,
        }
    }

    /// The value if it is held as JSON (not kept as text or a tree).
    #[inline]
    pub fn as_json(self) -> Option<&'a Value> {
        match self {
            ValueRef::Json(v) => Some(v),
            ValueRef::Text(_) | ValueRef::Tree(_) => None,
        }
    }

    /// Member `key`, if this is an object that has it.
    pub fn get(self, key: &str) -> Option<ValueRef<'a>> {
        match self {
            ValueRef::Json(Value::Object(map)) => map.get(key).map(ValueRef::Json),
            ValueRef::Tree(tree) => tree.get(key),
            _ => None,
        }
    }

    pub fn as_bool(self) -> Option<bool> {
        self.as_json().and_then(Value::as_bool)
    }

    /// The value as text: a string as it is, a number or boolean rendered;
    /// objects, arrays and null are not text.
    pub fn to_text(self) -> Option<Cow<'a, str>> {
        if let Some(s) = self.as_str() {
            return Some(Cow::Borrowed(s));
        }
        match self.as_json()? {
            Value::Number(n) => Some(Cow::Owned(with_number_text(n, str::to_owned))),
            Value::Bool(b) => Some(Cow::Owned(b.to_string())),
            _ => None,
        }
    }

    /// An array's elements (none for anything else).
    pub fn items(self) -> impl Iterator<Item = ValueRef<'a>> {
        let (json, tree) = match self {
            ValueRef::Json(Value::Array(items)) => (items.as_slice(), None),
            ValueRef::Tree(tree) if tree.is_array() => (&[][..], Some(tree)),
            _ => (&[][..], None),
        };
        json.iter()
            .map(ValueRef::Json)
            .chain(tree.into_iter().flat_map(TreeRef::values))
    }

    /// An object's members (none for anything else).
    pub fn members(self) -> impl Iterator<Item = (&'a str, ValueRef<'a>)> {
        let (json, tree) = match self {
            ValueRef::Json(Value::Object(map)) => (Some(map), None),
            ValueRef::Tree(tree) if !tree.is_array() => (None, Some(tree)),
            _ => (None, None),
        };
        let json = json
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), ValueRef::Json(v)));
        json.chain(tree.into_iter().flat_map(TreeRef::members))
    }

    pub fn is_null(self) -> bool {
        matches!(self, ValueRef::Json(Value::Null))
    }

    /// An owned copy, as JSON.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Text(s) => Value::String(s.to_owned()),
            ValueRef::Json(v) => v.clone(),
            ValueRef::Tree(tree) => tree.to_value(),
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
        match (self, other) {
            (ValueRef::Tree(_), _) | (_, ValueRef::Tree(_)) => self.to_value() == other.to_value(),
            _ => match (self.as_str(), other.as_str()) {
                (Some(a), Some(b)) => a == b,
                (None, None) => self.as_json() == other.as_json(),
                _ => false,
            },
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
            ValueRef::Tree(tree) => tree.serialize(s),
        }
    }
}

/// Calls `f` with number `n`'s text as serde_json writes it. Integers, by
/// far the most common (`ProcessId`, `LogonId`: on every event, and in every
/// alert's process), are written by `itoa` on the stack, as serde_json
/// itself writes them, without the formatting machinery or an allocation.
pub fn with_number_text<R>(n: &serde_json::Number, f: impl FnOnce(&str) -> R) -> R {
    if let Some(u) = n.as_u64() {
        return f(itoa::Buffer::new().format(u));
    }
    if let Some(i) = n.as_i64() {
        return f(itoa::Buffer::new().format(i));
    }
    f(&n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_text_as_serde_json_writes_them() {
        for n in [
            json!(0),
            json!(7),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
        ] {
            let text = ValueRef::Json(&n).to_text().map(Cow::into_owned);
            assert_eq!(text, Some(n.to_string()), "{n}");
        }
    }

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

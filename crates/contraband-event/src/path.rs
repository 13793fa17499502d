//! Dotted-path lookup over a JSON tree, the way Sigma rules address fields.

use std::ops::ControlFlow;

use serde_json::{Map, Value};

use crate::names::has_dot;
use crate::{Fields, TreeRef, ValueRef};

/// What a visit calls on each value it reaches, until it breaks.
pub type Visitor<'v, 'a> = dyn FnMut(ValueRef<'a>) -> ControlFlow<()> + 'v;

/// A JSON object as [`visit_map`] reads it: an event's top-level
/// [`Fields`] or an object nested in a value. A reference, so what it finds
/// lives as long as the object.
pub trait Object<'a>: Copy {
    /// Whether [`Object::has_dotted_key`] costs next to nothing (the answer
    /// is kept), so it is worth asking before anything else.
    const KNOWS_DOTTED_KEYS: bool = false;
    fn lookup(self, key: &str) -> Option<ValueRef<'a>>;
    /// Does some key contain a dot (a flat spelling of a nested name)?
    fn has_dotted_key(self) -> bool;
}

impl<'a> Object<'a> for &'a Map<String, Value> {
    fn lookup(self, key: &str) -> Option<ValueRef<'a>> {
        self.get(key).map(ValueRef::Json)
    }
    fn has_dotted_key(self) -> bool {
        self.keys().any(|k| has_dot(k.as_bytes()))
    }
}

impl<'a> Object<'a> for &'a Fields {
    const KNOWS_DOTTED_KEYS: bool = true;
    #[inline]
    fn lookup(self, key: &str) -> Option<ValueRef<'a>> {
        self.get_ref(key)
    }
    fn has_dotted_key(self) -> bool {
        Fields::has_dotted_key(self)
    }
}

/// An object of an event's tree.
#[derive(Clone, Copy)]
struct TreeObject<'a>(TreeRef<'a>);

impl<'a> Object<'a> for TreeObject<'a> {
    fn lookup(self, key: &str) -> Option<ValueRef<'a>> {
        self.0.get(key)
    }
    fn has_dotted_key(self) -> bool {
        self.0.member_nodes().any(|(k, _)| has_dot(k))
    }
}

/// Calls `f` on every leaf value `path` reaches below `v`, as
/// [`visit_path`] would from `v`'s place: the rest of a walk whose start
/// was found before. Text has nothing below it.
pub fn visit_below<'a>(v: ValueRef<'a>, path: &str, f: &mut Visitor<'_, 'a>) -> ControlFlow<()> {
    match v {
        ValueRef::Json(v) => visit_path(v, path, f),
        ValueRef::Tree(tree) if tree.is_array() => visit_items(tree.values(), path, f),
        // Trees hold objects of at most `TREE_MAX_KEYS` members.
        ValueRef::Tree(tree) => visit_small(tree.member_nodes(), |at| tree.value_at(at), path, f)
            .unwrap_or_else(|| visit_map(TreeObject(tree), path, f)),
        ValueRef::Text(_) => ControlFlow::Continue(()),
    }
}

/// A path's first segment and the rest, if any.
pub(crate) fn split_head(path: &str) -> (&str, Option<&str>) {
    match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    }
}

/// [`visit_path`] over an array's items: a numeric first segment picks
/// one, any other path continues in each.
fn visit_items<'a>(
    mut items: impl Iterator<Item = ValueRef<'a>>,
    path: &str,
    f: &mut Visitor<'_, 'a>,
) -> ControlFlow<()> {
    let (head, rest) = split_head(path);
    if let Ok(index) = head.parse::<usize>() {
        return match (items.nth(index), rest) {
            (Some(item), Some(rest)) => visit_below(item, rest, f),
            (Some(item), None) => visit_leaf_ref(item, f),
            (None, _) => ControlFlow::Continue(()),
        };
    }
    for item in items {
        visit_below(item, path, f)?;
    }
    ControlFlow::Continue(())
}

/// [`Fields`] read as JSON only: strings kept as text are built as JSON
/// when reached, for a caller that needs a `&Value`.
#[derive(Clone, Copy)]
pub(crate) struct AsJson<'a>(pub &'a Fields);

impl<'a> Object<'a> for AsJson<'a> {
    const KNOWS_DOTTED_KEYS: bool = true;
    fn lookup(self, key: &str) -> Option<ValueRef<'a>> {
        self.0.get(key).map(ValueRef::Json)
    }
    fn has_dotted_key(self) -> bool {
        self.0.has_dotted_key()
    }
}

/// Calls `f` on every leaf value that `path` reaches in `root`, until `f`
/// breaks. Returns `Break` if it did.
///
/// - A key that itself contains dots (`"Actor.ID"` stored flat) wins over
///   descending, and every split point is tried, so flat and nested
///   spellings of the same name both resolve.
/// - An array met along the way fans out: each element continues the path.
///   A numeric segment indexes into an array instead.
/// - An array at the end of the path is visited element by element (Sigma
///   treats a list-valued field as matching when any element matches), but
///   an empty array or an object is visited as itself so `exists` and `null`
///   checks still see it.
pub fn visit_path<'a>(root: &'a Value, path: &str, f: &mut Visitor<'_, 'a>) -> ControlFlow<()> {
    match root {
        Value::Object(map) if map.len() <= SMALL_OBJECT => visit_small_map(map, path, f),
        Value::Object(map) => visit_map(map, path, f),
        Value::Array(items) => visit_items(items.iter().map(ValueRef::Json), path, f),
        _ => ControlFlow::Continue(()),
    }
}

/// [`visit_path`] starting from an object's map.
pub fn visit_map<'a, O: Object<'a>>(
    map: O,
    path: &str,
    f: &mut Visitor<'_, 'a>,
) -> ControlFlow<()> {
    let Some(first_dot) = path.bytes().position(|b| b == b'.') else {
        return match map.lookup(path) {
            Some(v) => visit_leaf_ref(v, f),
            None => ControlFlow::Continue(()),
        };
    };
    // Keys with dots in them are rare; without any, only the first segment
    // can match, and the whole name and its longer prefixes need no
    // lookup. Same result either way. With one dot there are only two
    // lookups to save one of, and scanning the keys costs more than that
    // (measured on the linux corpus), unless the object knows the answer.
    let worth_asking = O::KNOWS_DOTTED_KEYS || path.as_bytes()[first_dot + 1..].contains(&b'.');
    if worth_asking && !map.has_dotted_key() {
        return match map.lookup(&path[..first_dot]) {
            Some(v) => visit_below(v, &path[first_dot + 1..], f),
            None => ControlFlow::Continue(()),
        };
    }
    if let Some(v) = map.lookup(path) {
        return visit_leaf_ref(v, f);
    }
    for (i, b) in path.bytes().enumerate() {
        if b != b'.' {
            continue;
        }
        if let Some(v) = map.lookup(&path[..i]) {
            visit_below(v, &path[i + 1..], f)?;
        }
    }
    ControlFlow::Continue(())
}

/// [`visit_below`] for a caller that continues longer paths from the
/// values found. It gives the same values as long as no object it looks a
/// name up in has a member whose name holds a dot: there, a flat name such
/// as `"spec.containers"` could reach past the values found, so it stops
/// and returns `None`, some values possibly given to `f` already.
pub fn visit_plain_below<'a>(
    v: ValueRef<'a>,
    path: &str,
    f: &mut Visitor<'_, 'a>,
) -> Option<ControlFlow<()>> {
    let (head, rest) = split_head(path);
    let member = match v {
        ValueRef::Text(_) => None,
        ValueRef::Tree(tree) if tree.is_array() => {
            return visit_plain_items(tree.values(), path, f)
        }
        ValueRef::Tree(tree) => {
            let mut found = None;
            for (name, at) in tree.member_nodes() {
                if has_dot(name) {
                    return None;
                }
                if name == head.as_bytes() {
                    found = Some(at);
                }
            }
            found.map(|at| tree.value_at(at))
        }
        ValueRef::Json(Value::Object(map)) => {
            if map.has_dotted_key() {
                return None;
            }
            map.get(head).map(ValueRef::Json)
        }
        ValueRef::Json(Value::Array(items)) => {
            return visit_plain_items(items.iter().map(ValueRef::Json), path, f)
        }
        ValueRef::Json(_) => None,
    };
    visit_plain_member(member, rest, f)
}

/// The step of a plain walk after member `member` of an object was looked
/// up (`None`: there is no such member), with `rest` of the path left.
pub(crate) fn visit_plain_member<'a>(
    member: Option<ValueRef<'a>>,
    rest: Option<&str>,
    f: &mut Visitor<'_, 'a>,
) -> Option<ControlFlow<()>> {
    match (member, rest) {
        (None, _) => Some(ControlFlow::Continue(())),
        (Some(v), None) => Some(visit_leaf_ref(v, f)),
        (Some(v), Some(rest)) => visit_plain_below(v, rest, f),
    }
}

/// [`visit_items`] for [`visit_plain_below`].
fn visit_plain_items<'a>(
    mut items: impl Iterator<Item = ValueRef<'a>>,
    path: &str,
    f: &mut Visitor<'_, 'a>,
) -> Option<ControlFlow<()>> {
    let (head, rest) = split_head(path);
    if let Ok(index) = head.parse::<usize>() {
        return visit_plain_member(items.nth(index), rest, f);
    }
    for item in items {
        if visit_plain_below(item, path, f)?.is_break() {
            return Some(ControlFlow::Break(()));
        }
    }
    Some(ControlFlow::Continue(()))
}

/// Objects with at most this many keys are searched key by key
/// ([`visit_small_map`]): most nested objects in telemetry are this small,
/// and a pass over a dozen short keys costs less than hashing the name.
const SMALL_OBJECT: usize = 16;

/// Prefix keys [`visit_small_map`] keeps track of; a path that meets more
/// (a key for nearly every one of its segments) takes [`visit_map`].
const SMALL_OBJECT_PREFIXES: usize = 4;

/// [`visit_map`] over a small nested object, in one pass over its keys and
/// with the same result: the key equal to the whole path wins; otherwise
/// every key that is `path` up to one of its dots continues the walk,
/// shortest first. No hashing, and no separate scan for dotted keys.
fn visit_small_map<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    f: &mut Visitor<'_, 'a>,
) -> ControlFlow<()> {
    let members = map.iter().map(|(k, v)| (k.as_bytes(), v));
    visit_small(members, ValueRef::Json, path, f).unwrap_or_else(|| visit_map(map, path, f))
}

/// [`visit_small_map`] over any object's `members`, whose values `value`
/// reads (only those the walk takes). `None` when the path meets more
/// prefix keys than kept: the caller takes [`visit_map`].
fn visit_small<'a, V: Copy>(
    members: impl Iterator<Item = (&'a [u8], V)>,
    value: impl Fn(V) -> ValueRef<'a>,
    path: &str,
    f: &mut Visitor<'_, 'a>,
) -> Option<ControlFlow<()>> {
    let p = path.as_bytes();
    let mut prefixes: [(usize, Option<V>); SMALL_OBJECT_PREFIXES] =
        [(0, None); SMALL_OBJECT_PREFIXES];
    let mut found = 0;
    for (k, member) in members {
        // The first byte rules out most keys without a comparison call.
        let Some(start) = p.get(..k.len()) else {
            continue;
        };
        if k.first().is_some_and(|&b| b != start[0]) || start != k {
            continue;
        }
        if k.len() == p.len() {
            return Some(visit_leaf_ref(value(member), f));
        }
        if p[k.len()] != b'.' {
            continue;
        }
        if found == SMALL_OBJECT_PREFIXES {
            return None;
        }
        prefixes[found] = (k.len(), Some(member));
        found += 1;
    }
    let prefixes = &mut prefixes[..found];
    prefixes.sort_unstable_by_key(|&(len, _)| len);
    for &(len, member) in prefixes.iter() {
        if let Some(member) = member {
            if visit_below(value(member), &path[len + 1..], f).is_break() {
                return Some(ControlFlow::Break(()));
            }
        }
    }
    Some(ControlFlow::Continue(()))
}

/// The value a leaf visit meets first: a list's first element (Sigma reads
/// a list-valued field element by element), else the value itself (an
/// empty list too).
pub(crate) fn first_leaf(v: &Value) -> &Value {
    match v {
        Value::Array(items) => items.first().unwrap_or(v),
        _ => v,
    }
}

fn visit_leaf<'a>(v: &'a Value, f: &mut Visitor<'_, 'a>) -> ControlFlow<()> {
    match v {
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                f(ValueRef::Json(item))?;
            }
            ControlFlow::Continue(())
        }
        _ => f(ValueRef::Json(v)),
    }
}

/// Calls `f` on what a top-level field's value `v` gives a reader of the
/// field's name ([`crate::Event::visit`]): each item of an array, else `v`.
#[inline]
pub fn visit_leaf_ref<'a>(v: ValueRef<'a>, f: &mut Visitor<'_, 'a>) -> ControlFlow<()> {
    match v {
        ValueRef::Json(v) => visit_leaf(v, f),
        ValueRef::Tree(tree) if tree.is_array() => {
            for item in tree.values() {
                f(item)?;
            }
            ControlFlow::Continue(())
        }
        other => f(other),
    }
}

/// Calls `f` on every scalar in the tree (strings, numbers, booleans), for
/// Sigma keyword searches that name no field.
pub fn visit_strings<'a>(root: ValueRef<'a>, f: &mut Visitor<'_, 'a>) -> ControlFlow<()> {
    let json = match root {
        ValueRef::Json(json) => json,
        ValueRef::Tree(tree) => {
            for v in tree.values() {
                visit_strings(v, f)?;
            }
            return ControlFlow::Continue(());
        }
        ValueRef::Text(_) => return f(root),
    };
    match json {
        Value::Object(map) => {
            for v in map.values() {
                visit_strings(ValueRef::Json(v), f)?;
            }
            ControlFlow::Continue(())
        }
        Value::Array(items) => {
            for v in items {
                visit_strings(ValueRef::Json(v), f)?;
            }
            ControlFlow::Continue(())
        }
        Value::Null => ControlFlow::Continue(()),
        _ => f(root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn collect(root: &Value, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let _ = visit_path(root, path, &mut |v| {
            out.push(v.to_value());
            ControlFlow::Continue(())
        });
        out
    }

    #[test]
    fn nested_flat_and_arrays() {
        let v = json!({
            "Actor.ID": "flat",
            "Actor": {"ID": "nested"},
            "spec": {"containers": [
                {"image": "a", "securityContext": {"privileged": true}},
                {"image": "b"}
            ]},
            "tags": ["x", "y"],
            "empty": []
        });
        assert_eq!(collect(&v, "Actor.ID"), vec![json!("flat")]);
        assert_eq!(
            collect(&v, "spec.containers.image"),
            vec![json!("a"), json!("b")]
        );
        assert_eq!(collect(&v, "spec.containers.1.image"), vec![json!("b")]);
        assert_eq!(
            collect(&v, "spec.containers.securityContext.privileged"),
            vec![json!(true)]
        );
        assert_eq!(collect(&v, "tags"), vec![json!("x"), json!("y")]);
        assert_eq!(collect(&v, "empty"), vec![json!([])]);
        assert!(collect(&v, "missing.path").is_empty());
    }

    /// Both ways of searching an object, every value they reach in order.
    fn small_and_general(map: &Map<String, Value>, path: &str) -> (Vec<Value>, Vec<Value>) {
        let mut small = Vec::new();
        let _ = visit_small_map(map, path, &mut |v| {
            small.push(v.to_value());
            ControlFlow::Continue(())
        });
        let mut general = Vec::new();
        let _ = visit_map(map, path, &mut |v| {
            general.push(v.to_value());
            ControlFlow::Continue(())
        });
        (small, general)
    }

    #[test]
    fn small_objects_resolve_dotted_and_empty_keys_as_visit_map_does() {
        let v = json!({
            "": {"a": 1}, "a": {"b": {"c": 2}, "b.c": 3}, "a.b": {"c": 4},
            "a.b.c.d": 5, "x.": {"": 6}, "x": {"": 7, "y": [8, {"z": 9}]}
        });
        let map = v.as_object().unwrap();
        for path in [
            "",
            ".a",
            "a",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "x.",
            "x..",
            "x.y",
            "x.y.z",
            "x.y.1.z",
            "a.b.c.d.e",
            "b",
            "a.c",
        ] {
            let (small, general) = small_and_general(map, path);
            assert_eq!(small, general, "{path}");
        }
        // Inside `a`, the flat `b.c` wins over `b` then `c`; `a.b` follows.
        assert_eq!(small_and_general(map, "a.b.c").0, [json!(3), json!(4)]);
        // More prefix keys than kept: the general walk takes over.
        let many = json!({"a": {"b.c.d.e.f": 1}, "a.b": {"c.d.e.f": 2}, "a.b.c": {"d.e.f": 3},
                          "a.b.c.d": {"e.f": 4}, "a.b.c.d.e": {"f": 5}, "a.b.c.d.e.f.g": 0});
        let (small, general) = small_and_general(many.as_object().unwrap(), "a.b.c.d.e.f");
        assert_eq!(small, general);
        assert_eq!(small, [json!(1), json!(2), json!(3), json!(4), json!(5)]);
    }

    proptest::proptest! {
        #[test]
        fn small_objects_agree_with_visit_map(
            keys in proptest::collection::vec("[ab.]{0,4}", 0..10),
            path in "[ab.]{0,6}",
        ) {
            let mut map = Map::new();
            for (i, key) in keys.iter().enumerate() {
                let inner: Map<String, Value> =
                    keys.iter().map(|k| (k.clone(), json!(i))).collect();
                map.insert(key.clone(), if i % 2 == 0 { json!(i) } else { Value::Object(inner) });
            }
            let (small, general) = small_and_general(&map, &path);
            proptest::prop_assert_eq!(small, general);
        }
    }

    #[test]
    fn stops_early() {
        let v = json!({"a": [1, 2, 3]});
        let mut seen = 0;
        let flow = visit_path(&v, "a", &mut |_| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert!(flow.is_break());
        assert_eq!(seen, 1);
    }
}

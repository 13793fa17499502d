//! An event's nested values (objects and arrays) as a tree of places in its
//! record, walked without building JSON.
//!
//! serde_json builds a nested object as an `IndexMap` with a `String` per
//! key and per value, hashed with SipHash; for a Kubernetes audit event
//! that was a third of its cost, and freeing it another tenth, though rules
//! read a handful of its values. Here the whole event's nested values are
//! one list of nodes: a key and a plain string are byte ranges in the
//! record, an object's members are linked in order. A decoder builds it
//! with a [`TreeBuilder`]; a reader asking for JSON gets it built once.
//!
//! Nodes are plain data: a value held as JSON (a number, an escaped
//! string) is an index into one list of them beside the nodes. Freeing an
//! event then walks only that short list, not every node and field: it
//! walked each one's drop glue, ~400 instructions an event.

use std::ops::Range;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::spare::{self, SpareLists};
use crate::ValueRef;

/// No node (the end of a list of members).
const NONE: u32 = u32::MAX;

/// What a value that is not there, or not set yet, reads as.
pub(crate) static NULL: Value = Value::Null;

/// An object with more members than this is not made a tree: its keys are
/// checked against each other for repeats, pairwise.
pub const TREE_MAX_KEYS: usize = 32;

/// Bytes of record per node reserved up front: about what Kubernetes
/// audit records hold (a member is a name, a colon, a value and a comma).
const BYTES_PER_NODE: usize = 24;

/// One member of an object or element of an array.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    /// The member's name in the record (empty for array elements and roots).
    key: (u32, u32),
    /// The next member or element of the same parent, or [`NONE`].
    next: u32,
    value: NodeValue,
}

/// A [`TreeValue`] as a node holds it: JSON as its index in
/// [`Backing::jsons`].
#[derive(Clone, Copy, Debug)]
enum NodeValue {
    /// Not set yet.
    Null,
    Text(u32, u32),
    Json(u32),
    Object {
        first: u32,
        len: u32,
    },
    Array {
        first: u32,
        len: u32,
    },
}

/// A node's value as a decoder gives it.
#[derive(Clone, Debug)]
pub enum TreeValue {
    /// A string without escapes: its byte range in the record, quotes
    /// excluded.
    Text(u32, u32),
    /// Anything else that is not an object or array, and empty arrays.
    Json(Value),
    /// Members starting at node `first`, linked through their `next`.
    Object { first: u32, len: u32 },
    /// A non-empty array's elements, linked the same way.
    Array { first: u32, len: u32 },
}

/// What [`ValueRef::Text`] and tree values are read from: the record's
/// text, the nodes of its nested values, and the values of fields and
/// nodes held as JSON.
#[derive(Clone, Debug, Default)]
pub(crate) struct Backing {
    pub record: Option<Arc<str>>,
    pub nodes: Vec<Node>,
    /// Values held as JSON, each named by one field's or node's index.
    /// A replaced or removed value's place stays, holding null, until the
    /// event is dropped.
    pub jsons: Vec<Value>,
}

thread_local! {
    /// Node lists of dropped events (see [`crate::spare`]).
    static SPARE_NODES: SpareLists<Node> = const { SpareLists::new() };
}

/// Room for JSON values made at once: a process event's numbers and a
/// flag of its container. Unlike nodes, not kept from dropped events: at
/// 576 bytes the list is within an allocator's per-thread cache, which
/// served it in fewer instructions than finding a kept one took.
const JSONS_ROOM: usize = 8;

/// The largest node list kept, 24 bytes a node (a Kubernetes audit event
/// takes ~100): at most 64 x 24 KB a thread.
const SPARE_NODES_ROOM: usize = 1024;

impl Drop for Backing {
    fn drop(&mut self) {
        spare::give(
            &SPARE_NODES,
            std::mem::take(&mut self.nodes),
            SPARE_NODES_ROOM,
        );
    }
}

impl Backing {
    /// The text at `start..end` of the record (checked when it was set).
    pub fn text(&self, start: u32, end: u32) -> &str {
        let record = self.record.as_deref().unwrap_or_default();
        record.get(start as usize..end as usize).unwrap_or_default()
    }

    /// The bytes at `start..end` of the record: a name compared byte for
    /// byte needs no character boundaries checked.
    fn bytes(&self, start: u32, end: u32) -> &[u8] {
        let record = self.record.as_deref().unwrap_or_default().as_bytes();
        record.get(start as usize..end as usize).unwrap_or_default()
    }

    /// Is `range` a run of whole characters in the record?
    fn holds(&self, range: &Range<usize>) -> bool {
        self.record
            .as_deref()
            .is_some_and(|r| r.get(range.clone()).is_some() && u32::try_from(range.end).is_ok())
    }

    /// Node `at`'s value, as readers see it.
    #[inline]
    pub fn value_ref(&self, at: u32) -> ValueRef<'_> {
        match self.nodes[at as usize].value {
            NodeValue::Text(start, end) => ValueRef::Text(self.text(start, end)),
            NodeValue::Json(i) => ValueRef::Json(self.json(i)),
            NodeValue::Null => ValueRef::Json(&NULL),
            NodeValue::Object { .. } | NodeValue::Array { .. } => {
                ValueRef::Tree(TreeRef { backing: self, at })
            }
        }
    }

    /// JSON value `i` (one a field or node names: always there).
    #[inline]
    pub fn json(&self, i: u32) -> &Value {
        self.jsons.get(i as usize).unwrap_or(&NULL)
    }

    /// Keeps `value`; its index, for a field or node to name. A full list
    /// (2^32 - 1 values, hundreds of gigabytes) keeps nothing more, and
    /// the index it gives reads as null.
    #[inline]
    pub fn keep_json(&mut self, value: Value) -> u32 {
        let len = self.jsons.len();
        if len >= u32::MAX as usize {
            return u32::MAX;
        }
        if len == self.jsons.capacity() {
            self.make_room_for_json();
        }
        self.jsons.push(value);
        len as u32
    }

    /// Room for [`JSONS_ROOM`] more JSON values.
    #[cold]
    fn make_room_for_json(&mut self) {
        self.jsons.reserve(JSONS_ROOM);
    }

    /// Takes JSON value `i` out, leaving null in its place (nothing names
    /// it any more).
    pub fn take_json(&mut self, i: u32) -> Value {
        self.jsons
            .get_mut(i as usize)
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

/// An object or non-empty array of an event's tree.
#[derive(Clone, Copy)]
pub struct TreeRef<'a> {
    backing: &'a Backing,
    at: u32,
}

impl std::fmt::Debug for TreeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_value().fmt(f)
    }
}

impl<'a> TreeRef<'a> {
    fn node(self, at: u32) -> &'a Node {
        &self.backing.nodes[at as usize]
    }

    pub fn is_array(self) -> bool {
        matches!(self.node(self.at).value, NodeValue::Array { .. })
    }

    /// The members' names and values (an array's elements have empty names).
    pub fn members(self) -> impl Iterator<Item = (&'a str, ValueRef<'a>)> {
        self.member_nodes().map(move |(_, at)| {
            let (start, end) = self.node(at).key;
            (self.backing.text(start, end), self.value_at(at))
        })
    }

    /// The members' names, as bytes, and nodes: a search reads only the
    /// value it finds ([`TreeRef::value_at`]).
    pub(crate) fn member_nodes(self) -> impl Iterator<Item = (&'a [u8], u32)> {
        let (mut at, mut left) = match self.node(self.at).value {
            NodeValue::Object { first, len } | NodeValue::Array { first, len } => (first, len),
            _ => (NONE, 0),
        };
        std::iter::from_fn(move || {
            if left == 0 || at == NONE {
                return None;
            }
            let node = self.node(at);
            let item = (self.backing.bytes(node.key.0, node.key.1), at);
            at = node.next;
            left -= 1;
            Some(item)
        })
    }

    /// The value of node `at` (one of [`TreeRef::member_nodes`]).
    pub(crate) fn value_at(self, at: u32) -> ValueRef<'a> {
        self.backing.value_ref(at)
    }

    /// The values of an array's elements or an object's members.
    pub fn values(self) -> impl Iterator<Item = ValueRef<'a>> {
        self.member_nodes().map(move |(_, at)| self.value_at(at))
    }

    /// Member `key` of an object.
    pub fn get(self, key: &str) -> Option<ValueRef<'a>> {
        if self.is_array() {
            return None;
        }
        self.member_nodes()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, at)| self.value_at(at))
    }

    /// As JSON, built now.
    pub fn to_value(self) -> Value {
        if self.is_array() {
            return Value::Array(self.values().map(ValueRef::to_value).collect());
        }
        let mut map = Map::new();
        for (k, v) in self.members() {
            map.insert(k.to_owned(), v.to_value());
        }
        Value::Object(map)
    }
}

/// Adds one nested value to an event's tree, node by node; see
/// [`crate::Fields::tree`]. Dropped without [`TreeBuilder::finish`], it
/// takes back every node it added.
pub struct TreeBuilder<'f> {
    backing: &'f mut Backing,
    /// Nodes and JSON values before this value's: what a drop truncates
    /// to.
    from: usize,
    jsons_from: usize,
    finished: bool,
}

impl<'f> TreeBuilder<'f> {
    pub(crate) fn new(backing: &'f mut Backing) -> TreeBuilder<'f> {
        if backing.nodes.capacity() == 0 {
            // Room for the record's nested values at once: growing the list
            // node by node copied it six times for a Kubernetes audit event.
            // A node takes at least a few bytes of JSON text.
            let text = backing.record.as_deref().map_or(0, str::len);
            backing.nodes = spare::take(&SPARE_NODES, text / BYTES_PER_NODE);
        }
        let from = backing.nodes.len();
        let jsons_from = backing.jsons.len();
        TreeBuilder {
            backing,
            from,
            jsons_from,
            finished: false,
        }
    }

    /// Adds a node named by `key` (a range of the record without escapes;
    /// empty for an array element or the root) whose value is set later.
    /// `None` when `key` is not text of the record or the tree is full.
    pub fn push(&mut self, key: Range<usize>) -> Option<u32> {
        if !self.backing.holds(&key) {
            return None;
        }
        let at = u32::try_from(self.backing.nodes.len())
            .ok()
            .filter(|&n| n != NONE)?;
        self.backing.nodes.push(Node {
            key: (key.start as u32, key.end as u32),
            next: NONE,
            value: NodeValue::Null,
        });
        Some(at)
    }

    /// Sets node `at`'s value. `None`, and nothing set, when there is no
    /// such node, a text range is not text of the record or a first member
    /// is not a node.
    pub fn set(&mut self, at: u32, value: TreeValue) -> Option<()> {
        let nodes = self.backing.nodes.len();
        if at as usize >= nodes {
            return None;
        }
        let value = match value {
            TreeValue::Text(start, end) => {
                if !self.backing.holds(&(start as usize..end as usize)) {
                    return None;
                }
                NodeValue::Text(start, end)
            }
            TreeValue::Object { first, len } | TreeValue::Array { first, len }
                if len > 0 && first as usize >= nodes =>
            {
                return None;
            }
            TreeValue::Object { first, len } => NodeValue::Object { first, len },
            TreeValue::Array { first, len } => NodeValue::Array { first, len },
            TreeValue::Json(v) => NodeValue::Json(self.backing.keep_json(v)),
        };
        self.backing.nodes[at as usize].value = value;
        Some(())
    }

    /// Makes node `next` follow node `at` in its parent (nothing when
    /// either is not a node).
    pub fn link(&mut self, at: u32, next: u32) {
        if next as usize >= self.backing.nodes.len() {
            return;
        }
        if let Some(node) = self.backing.nodes.get_mut(at as usize) {
            node.next = next;
        }
    }

    /// Does node `at`'s name equal that of some node of `names`? (No for
    /// nodes that do not exist.)
    pub fn same_name(&self, at: u32, names: &[u32]) -> bool {
        let key = |i: u32| {
            let node = self.backing.nodes.get(i as usize)?;
            Some(self.backing.bytes(node.key.0, node.key.1))
        };
        let Some(mine) = key(at) else {
            return false;
        };
        names.iter().any(|&other| key(other) == Some(mine))
    }

    /// Keeps the tree whose root is node `root`.
    pub fn finish(mut self, root: u32) -> u32 {
        self.finished = true;
        root
    }
}

impl Drop for TreeBuilder<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.backing.nodes.truncate(self.from);
            self.backing.jsons.truncate(self.jsons_from);
        }
    }
}

impl serde::Serialize for TreeRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        if self.is_array() {
            let mut seq = s.serialize_seq(None)?;
            for v in self.values() {
                seq.serialize_element(&v)?;
            }
            return seq.end();
        }
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.members() {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldName, Fields};
    use serde_json::json;

    #[test]
    fn a_builder_takes_only_places_and_nodes_that_exist() {
        let record: Arc<str> = Arc::from(r#"{"o":{"a":"x","b":[1]}}"#);
        let mut fields = Fields::over_record(record, 1);
        let mut tree = fields.tree();
        let root = tree.push(0..0).unwrap();
        assert_eq!(tree.push(3..99), None, "past the record");
        let a = tree.push(7..8).unwrap();
        assert_eq!(
            tree.set(a, TreeValue::Text(11, 99)),
            None,
            "past the record"
        );
        tree.set(a, TreeValue::Text(11, 12)).unwrap();
        let b = tree.push(15..16).unwrap();
        let item = tree.push(0..0).unwrap();
        tree.set(item, TreeValue::Json(json!(1))).unwrap();
        assert_eq!(tree.set(b, TreeValue::Array { first: 99, len: 1 }), None);
        tree.set(
            b,
            TreeValue::Array {
                first: item,
                len: 1,
            },
        )
        .unwrap();
        tree.link(a, 99);
        tree.link(a, b);
        assert!(tree.same_name(b, &[a, b]) && !tree.same_name(b, &[a]));
        assert!(!tree.same_name(99, &[a]) && !tree.same_name(a, &[99]));
        tree.set(root, TreeValue::Object { first: a, len: 2 })
            .unwrap();
        let root = tree.finish(root);
        fields.set_tree(FieldName::Own(&"o".into()), root).unwrap();
        assert_eq!(fields.set_tree(FieldName::Own(&"p".into()), 99), None);
        assert_eq!(fields.get("o"), Some(&json!({"a": "x", "b": [1]})));
        let o = fields.get_ref("o").unwrap();
        assert_eq!(o.get("a"), Some(ValueRef::Text("x")));
        assert_eq!(o.get("b").map(|b| b.items().count()), Some(1));
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            r#"{"o":{"a":"x","b":[1]}}"#
        );
    }

    #[test]
    fn a_dropped_events_nodes_serve_the_next_record_of_its_thread_empty() {
        let record: Arc<str> = Arc::from(r#"{"o":{"a":"x","b":[1]}}"#);
        let fresh = || Backing {
            record: Some(record.clone()),
            nodes: Vec::new(),
            jsons: Vec::new(),
        };
        let mut first = fresh();
        let mut tree = TreeBuilder::new(&mut first);
        let root = tree.push(0..0).unwrap();
        tree.finish(root);
        let (place, room) = (first.nodes.as_ptr(), first.nodes.capacity());
        let before = spare::kept(&SPARE_NODES);
        drop(first);
        assert_eq!(spare::kept(&SPARE_NODES), before + 1);
        let mut second = fresh();
        TreeBuilder::new(&mut second);
        assert_eq!(second.nodes.as_ptr(), place, "the same list");
        assert!(second.nodes.is_empty());
        assert!(second.nodes.capacity() >= room);
        // A list past the bound goes back to the allocator.
        let large = Backing {
            record: None,
            nodes: Vec::with_capacity(SPARE_NODES_ROOM + 1),
            jsons: Vec::new(),
        };
        let before = spare::kept(&SPARE_NODES);
        drop(large);
        assert_eq!(spare::kept(&SPARE_NODES), before);
    }

    #[test]
    fn an_unfinished_builder_takes_its_nodes_back() {
        let record: Arc<str> = Arc::from(r#"{"o":{"a":1}}"#);
        let mut fields = Fields::over_record(record, 1);
        let mut tree = fields.tree();
        let root = tree.push(0..0).unwrap();
        let member = tree.push(7..8).unwrap();
        tree.set(member, TreeValue::Json(json!(1))).unwrap();
        drop(tree);
        assert!(fields.backing().jsons.is_empty(), "nor the values it kept");
        assert_eq!(
            fields.set_tree(FieldName::Own(&"o".into()), root),
            None,
            "no such node any more"
        );
    }
}

//! The top level of an event's fields: names and values in input order.
//!
//! Not serde_json's `Map`: with `preserve_order` that is an `IndexMap`
//! hashed with SipHash, and an event is built once but looked up twenty-odd
//! times (prefilter, rules, enrichment). A process event has a dozen or two
//! fields, and comparing a name's length and bytes against that many
//! short keys costs a fraction of hashing it once. Objects past
//! [`INDEX_FROM`] keys (rare, and possibly hostile) get a hash index so a
//! lookup never walks a long list.
//!
//! A plain string read from a record is kept as its place in the record's
//! text (the record is one shared `Arc<str>` the event holds anyway):
//! most of an event's values are read as text or not at all, and building
//! a `String` per value and freeing it was a fifth of decoding an event.
//! A nested object or array is kept the same way, as a tree of places in
//! the record (see [`crate::TreeBuilder`]). Readers walk [`ValueRef`]s;
//! readers that want JSON get it built on first ask.

use std::hash::{BuildHasher, RandomState};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::spare::{self, SpareLists};
use crate::tree::{Backing, TreeBuilder};
use crate::ValueRef;

/// From this many fields on, lookups go through a hash index.
const INDEX_FROM: usize = 32;

/// An event's top-level fields, in the order the record gave them. Like a
/// JSON object, a name appears once: inserting it again replaces the value
/// in its first position.
///
/// Names are shared (`Arc<str>`): a stream's events repeat the same dozen
/// names, and a decoder that keeps them (see [`KeyCache`]) saves an
/// allocation and a free per field per event.
#[derive(Clone, Default)]
pub struct Fields {
    entries: Vec<Entry>,
    /// Where each tag bucket's chain of names starts: a lookup walks only
    /// the names in its bucket (usually one), and a lookup of an absent name
    /// (a mapping trying its candidate time fields, a rule testing a field
    /// this source lacks) mostly ends at an empty bucket.
    first: Buckets,
    /// Whether some name contains a dot, found on first need (most
    /// events are never asked): with none, a dotted path can only mean
    /// nesting, and resolving it takes one lookup per level.
    dotted: OnceLock<bool>,
    index: Option<Box<Index>>,
    /// The record [`Slot::Text`] values are places in, and the nodes of
    /// [`Slot::Tree`] values.
    backing: Backing,
}

/// One name and value of [`Fields`] (its iterators' storage).
#[derive(Clone)]
pub struct Entry {
    /// [`tag`] of `name`: a list walk compares this before any text.
    tag: u32,
    /// 1 + the position of the next name in this one's tag bucket, or 0.
    next_in_bucket: u8,
    name: Arc<str>,
    value: Slot,
}

thread_local! {
    /// Field lists of dropped [`Fields`] (see [`crate::spare`]). An
    /// [`Entry`] is 96 bytes: a `Value` with ordered objects is 72.
    static SPARE_ENTRIES: SpareLists<Entry> = const { SpareLists::new() };
}

/// The largest field list kept: 64 x 96 bytes.
const SPARE_LIST_ROOM: usize = 64;

impl Drop for Fields {
    fn drop(&mut self) {
        spare::give(
            &SPARE_ENTRIES,
            std::mem::take(&mut self.entries),
            SPARE_LIST_ROOM,
        );
    }
}

/// A field's value: JSON, or a plain string left in the record until a
/// reader asks for it as JSON.
#[derive(Clone)]
enum Slot {
    Json(Value),
    Text {
        /// Byte range in the record of [`Fields::backing`], checked when
        /// it was set.
        start: u32,
        end: u32,
        /// The string as JSON, once asked for. Boxed so a slot is no
        /// larger than a `Value` (the list of fields stays small enough
        /// for glibc's per-thread cache).
        json: OnceLock<Box<Value>>,
    },
    /// An object or array: node `root` of [`Fields::backing`]'s tree.
    Tree {
        root: u32,
        json: OnceLock<Box<Value>>,
    },
}

/// A cheap fingerprint of a name, from its length and three of its bytes:
/// names that differ there (nearly all of a record's) compare as one
/// integer. Not a hash an attacker could be hurt by: equal tags still
/// compare the text, and long lists use the keyed index.
#[inline]
fn tag(name: &str) -> u32 {
    let b = name.as_bytes();
    let Some(&last) = b.last() else { return 0 };
    let raw = b.len() as u32
        ^ u32::from(b[0]) << 8
        ^ u32::from(b[b.len() / 2]) << 16
        ^ u32::from(last) << 24;
    raw.wrapping_mul(0x9E37_79B1)
}

/// Does `name` hold a dot? Eight bytes a step: asked of every name of a
/// record that a dotted path is walked over (a Kubernetes audit record's
/// ~17 names took ~1,200 instructions a byte at a time).
pub(crate) fn has_dot(name: &[u8]) -> bool {
    const ONES: u64 = u64::MAX / 255;
    let mut words = name.chunks_exact(8);
    for word in &mut words {
        // A byte equal to the dot becomes zero; a zero byte sets its high bit.
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ (ONES * u64::from(b'.'));
        if w.wrapping_sub(ONES) & !w & (ONES * 0x80) != 0 {
            return true;
        }
    }
    words.remainder().contains(&b'.')
}

/// The bucket of [`Fields::first`] for a name with tag `tag`.
#[inline]
fn bucket(tag: u32) -> usize {
    (tag >> (32 - BUCKET_BITS)) as usize
}

const BUCKET_BITS: u32 = 6;

/// Per tag bucket, 1 + the position of a name in it (the head of its chain
/// through [`Entry::next_in_bucket`]), or 0 for none. Kept while the list is
/// walked ([`INDEX_FROM`] is below 255). Names are unique, so the order of a
/// chain does not matter: a new name goes at its head.
#[derive(Clone)]
struct Buckets([u8; 1 << BUCKET_BITS]);

impl Default for Buckets {
    fn default() -> Buckets {
        Buckets([0; 1 << BUCKET_BITS])
    }
}

impl Buckets {
    /// Chains `entries` afresh (after a removal moved them).
    fn link(entries: &mut [Entry]) -> Buckets {
        let mut buckets = Buckets::default();
        for (i, e) in entries.iter_mut().enumerate() {
            buckets.push(e, i);
        }
        buckets
    }

    /// Puts `entry`, at position `i`, at the head of its bucket's chain.
    #[inline]
    fn push(&mut self, entry: &mut Entry, i: usize) {
        if i < INDEX_FROM {
            let head = &mut self.0[bucket(entry.tag)];
            entry.next_in_bucket = *head;
            *head = i as u8 + 1;
        }
    }

    /// The position of `key` (with tag `tag`) in `entries`.
    #[inline]
    fn find(&self, entries: &[Entry], key: &str, tag: u32) -> Option<usize> {
        let mut at = self.0[bucket(tag)];
        while let Some(i) = usize::from(at).checked_sub(1) {
            let e = &entries[i];
            if e.tag == tag && &*e.name == key {
                return Some(i);
            }
            at = e.next_in_bucket;
        }
        None
    }
}

#[derive(Clone)]
struct Index {
    hasher: RandomState,
    /// Positions in `entries`, hashed by their name.
    table: HashTable<usize>,
}

impl Index {
    fn build(entries: &[Entry]) -> Index {
        let mut index = Index {
            hasher: RandomState::new(),
            table: HashTable::with_capacity(entries.len()),
        };
        for i in 0..entries.len() {
            index.add(entries, i);
        }
        index
    }

    fn add(&mut self, entries: &[Entry], i: usize) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(&*entries[i].name);
        self.table
            .insert_unique(hash, i, |&j| hasher.hash_one(&*entries[j].name));
    }

    fn find(&self, entries: &[Entry], key: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.table
            .find(hash, |&j| &*entries[j].name == key)
            .copied()
    }
}

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    /// Room for `n` fields. The list is one a dropped `Fields` left on
    /// this thread when there is one: a record's list is larger than what
    /// glibc serves quickly from its per-thread cache.
    pub fn with_capacity(n: usize) -> Fields {
        Fields::with_backing(n, Backing::default())
    }

    /// Room for `n` fields whose plain strings may stay in `record`
    /// ([`Fields::insert_text`]).
    pub fn over_record(record: Arc<str>, n: usize) -> Fields {
        let backing = Backing {
            record: Some(record),
            nodes: Vec::new(),
        };
        Fields::with_backing(n, backing)
    }

    fn with_backing(n: usize, backing: Backing) -> Fields {
        Fields {
            entries: spare::take(&SPARE_ENTRIES, n),
            first: Buckets::default(),
            dotted: OnceLock::new(),
            index: None,
            backing,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn position(&self, key: &str) -> Option<usize> {
        self.position_tagged(key, tag(key))
    }

    /// [`Fields::position`] of a name whose [`tag`] the caller has.
    #[inline]
    fn position_tagged(&self, key: &str, tag: u32) -> Option<usize> {
        if let Some(index) = &self.index {
            return index.find(&self.entries, key);
        }
        self.first.find(&self.entries, key, tag)
    }

    /// Where `key` is among the fields, for [`Fields::value_at`]: the same
    /// for fields read alike (same names, same order).
    pub fn position_of(&self, key: &str) -> Option<usize> {
        self.position(key)
    }

    /// The value at `position` (see [`Fields::position_of`]), as it is held.
    pub fn value_at(&self, position: usize) -> Option<ValueRef<'_>> {
        self.entries.get(position).map(|e| self.value_ref(&e.value))
    }

    /// The value of `key` as JSON (a string kept as text is built now, once).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key)
            .map(|i| self.json(&self.entries[i].value))
    }

    /// The value of `key`, as it is held.
    #[inline]
    pub fn get_ref(&self, key: &str) -> Option<ValueRef<'_>> {
        self.position(key)
            .map(|i| self.value_ref(&self.entries[i].value))
    }

    #[inline]
    fn value_ref<'a>(&'a self, slot: &'a Slot) -> ValueRef<'a> {
        slot_ref(&self.backing, slot)
    }

    fn json<'a>(&'a self, slot: &'a Slot) -> &'a Value {
        match slot {
            Slot::Json(v) => v,
            Slot::Text { json, .. } | Slot::Tree { json, .. } => {
                json.get_or_init(|| Box::new(self.value_ref(slot).to_value()))
            }
        }
    }

    fn take_json(&self, slot: Slot) -> Value {
        slot_into_json(&self.backing, slot)
    }

    /// Does some name contain a dot (a flat spelling of a nested name)?
    pub fn has_dotted_key(&self) -> bool {
        *self
            .dotted
            .get_or_init(|| self.entries.iter().any(|e| has_dot(e.name.as_bytes())))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`; returns the value it replaces, if any. The
    /// name is converted (copied, for text) only when it is new.
    pub fn insert<K: AsRef<str> + Into<Arc<str>>>(
        &mut self,
        key: K,
        value: Value,
    ) -> Option<Value> {
        self.insert_slot(key, Slot::Json(value))
    }

    /// Sets `key` to the string at `range` of the record these fields are
    /// [over](Fields::over_record), which must hold no escapes: it is the
    /// value as it stands. `None`, and nothing set, when there is no
    /// record or `range` is not a string in it.
    pub fn insert_text<K: AsRef<str> + Into<Arc<str>>>(
        &mut self,
        key: K,
        range: Range<usize>,
    ) -> Option<()> {
        self.backing.record.as_deref()?.get(range.clone())?;
        let slot = Slot::Text {
            start: u32::try_from(range.start).ok()?,
            end: u32::try_from(range.end).ok()?,
            json: OnceLock::new(),
        };
        self.insert_slot(key, slot);
        Some(())
    }

    /// A builder of a nested value of the record these fields are
    /// [over](Fields::over_record), to set with [`Fields::insert_tree`].
    pub fn tree(&mut self) -> TreeBuilder<'_> {
        TreeBuilder::new(&mut self.backing)
    }

    /// Sets `key` to the tree [`Fields::tree`] built with root `root`.
    /// `None`, and nothing set, when there is no such node.
    pub fn insert_tree<K: AsRef<str> + Into<Arc<str>>>(&mut self, key: K, root: u32) -> Option<()> {
        if root as usize >= self.backing.nodes.len() {
            return None;
        }
        let slot = Slot::Tree {
            root,
            json: OnceLock::new(),
        };
        self.insert_slot(key, slot);
        Some(())
    }

    fn insert_slot<K: AsRef<str> + Into<Arc<str>>>(
        &mut self,
        key: K,
        value: Slot,
    ) -> Option<Value> {
        let tag = tag(key.as_ref());
        if let Some(i) = self.position_tagged(key.as_ref(), tag) {
            let old = std::mem::replace(&mut self.entries[i].value, value);
            return Some(self.take_json(old));
        }
        self.push_new(tag, key.into(), value);
        None
    }

    /// Sets `key` to `value` unless it already has one.
    pub fn insert_if_absent(&mut self, key: &str, value: Value) {
        let tag = tag(key);
        if self.position_tagged(key, tag).is_none() {
            self.push_new(tag, Arc::from(key), Slot::Json(value));
        }
    }

    /// Appends a name known to be absent (with its [`tag`]), keeping the
    /// index in step.
    fn push_new(&mut self, tag: u32, name: Arc<str>, value: Slot) {
        self.dotted = OnceLock::new();
        let last = self.entries.len();
        let mut entry = Entry {
            tag,
            next_in_bucket: 0,
            name,
            value,
        };
        self.first.push(&mut entry, last);
        self.entries.push(entry);
        match &mut self.index {
            Some(index) => index.add(&self.entries, last),
            None if self.entries.len() >= INDEX_FROM => {
                self.index = Some(Box::new(Index::build(&self.entries)));
            }
            None => {}
        }
    }

    /// Removes `key`, keeping the others in order.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let Entry { value, .. } = self.entries.remove(i);
        self.dotted = OnceLock::new();
        self.first = Buckets::link(&mut self.entries);
        if self.index.is_some() {
            // Positions after `i` moved; removals are rare (a decoder taking
            // out a key it handles itself), so rebuilding is fine.
            self.index =
                (self.entries.len() >= INDEX_FROM).then(|| Box::new(Index::build(&self.entries)));
        }
        Some(self.take_json(value))
    }

    /// Names and values as JSON (strings kept as text are built now, once).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.into_iter()
    }

    /// Names and values as they are held: what a reader that wants text
    /// should walk.
    pub fn refs(&self) -> impl ExactSizeIterator<Item = (&str, ValueRef<'_>)> {
        self.entries
            .iter()
            .map(|e| (&*e.name, self.value_ref(&e.value)))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|e| &*e.name)
    }

    /// Values as they are held (see [`Fields::refs`]).
    pub fn values(&self) -> impl ExactSizeIterator<Item = ValueRef<'_>> {
        self.entries.iter().map(|e| self.value_ref(&e.value))
    }
}
/// A slot's value, read from `backing`.
#[inline]
fn slot_ref<'a>(backing: &'a Backing, slot: &'a Slot) -> ValueRef<'a> {
    match slot {
        Slot::Json(v) => ValueRef::Json(v),
        Slot::Text { start, end, .. } => ValueRef::Text(backing.text(*start, *end)),
        Slot::Tree { root, .. } => backing.value_ref(*root),
    }
}

/// Takes a slot out as an owned value.
fn slot_into_json(backing: &Backing, slot: Slot) -> Value {
    match slot {
        Slot::Json(v) => v,
        Slot::Text { start, end, json } => json.into_inner().map_or_else(
            || Value::String(backing.text(start, end).to_owned()),
            |v| *v,
        ),
        Slot::Tree { root, json } => json
            .into_inner()
            .map_or_else(|| backing.value_ref(root).to_value(), |v| *v),
    }
}

/// Field names a decoder has met, by position. The records of one stream
/// mostly repeat the same names in the same order, so the name a record has
/// at a position is usually the one the previous record had there, and
/// sharing it costs a comparison instead of an allocation.
#[derive(Default)]
pub struct KeyCache {
    by_position: Vec<Arc<str>>,
    /// Bumped whenever a kept name changes: records read while it stays
    /// the same, each of which met only the kept names and all of them,
    /// have the same names in the same order (see [`KeyCache::shape`]).
    generation: u64,
}

/// Positions past this many are not remembered: memory stays bounded
/// whatever a record holds.
const KEY_CACHE_POSITIONS: usize = 64;

impl KeyCache {
    /// The name met last at `position` of a record, if any: a guess at the
    /// next record's.
    pub fn at(&self, position: usize) -> Option<&Arc<str>> {
        self.by_position.get(position)
    }

    /// How many positions hold a name: the longest record met, up to the
    /// cache's bound.
    pub fn positions(&self) -> usize {
        self.by_position.len()
    }

    /// For a record that met, at each of its `names` positions, the name
    /// [`KeyCache::at`] gave there: an identifier of its list of names,
    /// the same for every record with that list until a kept name
    /// changes. A reader can keep what it worked out from a record's names
    /// (where its time field is) under this identifier.
    pub fn shape(&self, names: usize) -> Option<u64> {
        // The first `names` kept names, as they stand.
        (names <= self.by_position.len())
            .then(|| self.generation * (KEY_CACHE_POSITIONS as u64 + 1) + names as u64)
    }

    /// The shared name for `name`, met at `position` of a record.
    pub fn name(&mut self, position: usize, name: &str) -> Arc<str> {
        if let Some(known) = self.by_position.get(position) {
            if &**known == name {
                return known.clone();
            }
        }
        // An optional field shifts the positions after it: look elsewhere
        // before allocating.
        if let Some(known) = self.by_position.iter().find(|k| &***k == name) {
            return known.clone();
        }
        let new: Arc<str> = Arc::from(name);
        let known = self.by_position.len();
        if position < known {
            self.by_position[position] = new.clone();
            self.generation += 1;
        } else if position == known && known < KEY_CACHE_POSITIONS {
            self.by_position.push(new.clone());
            self.generation += 1;
        }
        new
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.refs()).finish()
    }
}

/// Equal when both hold the same names with equal values, in any order
/// (as JSON objects compare).
impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len() && self.refs().all(|(k, v)| other.get_ref(k) == Some(v))
    }
}

impl<K: AsRef<str> + Into<Arc<str>>> FromIterator<(K, Value)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Fields {
        let iter = iter.into_iter();
        let mut fields = Fields::with_capacity(iter.size_hint().0);
        for (k, v) in iter {
            fields.insert(k, v);
        }
        fields
    }
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Fields {
        map.into_iter().collect()
    }
}

/// [`Fields`]' names and values, taken out as JSON.
pub struct IntoIter {
    backing: Backing,
    entries: std::vec::IntoIter<Entry>,
}

impl Iterator for IntoIter {
    type Item = (Arc<str>, Value);
    fn next(&mut self) -> Option<(Arc<str>, Value)> {
        let e = self.entries.next()?;
        Some((e.name, slot_into_json(&self.backing, e.value)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Fields {
    type Item = (Arc<str>, Value);
    type IntoIter = IntoIter;
    fn into_iter(mut self) -> IntoIter {
        IntoIter {
            backing: std::mem::take(&mut self.backing),
            entries: std::mem::take(&mut self.entries).into_iter(),
        }
    }
}

/// [`Fields`]' names and values as JSON (see [`Fields::iter`]).
pub struct Iter<'a> {
    fields: &'a Fields,
    entries: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Value);
    fn next(&mut self) -> Option<(&'a str, &'a Value)> {
        let e = self.entries.next()?;
        Some((&*e.name, self.fields.json(&e.value)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        Iter {
            fields: self,
            entries: self.entries.iter(),
        }
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.refs() {
            map.serialize_entry(k, &v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(n: usize) -> Fields {
        (0..n).map(|i| (format!("f{i}"), json!(i))).collect()
    }

    #[test]
    fn a_dropped_list_serves_the_next_fields_of_its_thread_empty() {
        let mut first = Fields::with_capacity(8);
        first.insert("a", json!(1));
        first.insert("b", json!("x"));
        let place = first.entries.as_ptr();
        drop(first);
        let second = Fields::with_capacity(4);
        assert_eq!(
            second.entries.as_ptr(),
            place,
            "the same list, not a new one"
        );
        assert!(second.is_empty());
        assert_eq!(second.get("a"), None);
        // A list past the bound goes back to the allocator.
        let kept = || spare::kept(&SPARE_ENTRIES);
        let before = kept();
        drop(Fields::with_capacity(SPARE_LIST_ROOM + 1));
        assert_eq!(kept(), before);
        drop(second);
        assert_eq!(kept(), before + 1);
    }

    #[test]
    fn a_text_slot_costs_no_more_room_than_a_value() {
        assert_eq!(
            std::mem::size_of::<Slot>(),
            std::mem::size_of::<Value>(),
            "a kept string must not make every field larger"
        );
    }

    #[test]
    fn text_values_read_as_the_strings_they_are() {
        let record: Arc<str> = Arc::from(r#"{"a":"xy","n":1,"b":"zz"}"#);
        let mut f = Fields::over_record(record.clone(), 4);
        f.insert_text("a", 6..8).unwrap();
        f.insert("n", json!(1));
        f.insert_text("b", 21..23).unwrap();
        assert_eq!(f.get_ref("a"), Some(ValueRef::Text("xy")));
        assert_eq!(f.get("a"), Some(&json!("xy")), "built as JSON on ask");
        assert_eq!(f.get_ref("a"), Some(ValueRef::Text("xy")), "still text");
        assert_eq!(
            f,
            Fields::from(
                json!({"a": "xy", "n": 1, "b": "zz"})
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"a":"xy","n":1,"b":"zz"}"#
        );
        f.insert_text("c", 21..23).unwrap();
        assert_eq!(f.get_ref("c"), Some(ValueRef::Text("zz")));
        assert_eq!(f.insert("a", json!(2)), Some(json!("xy")));
        assert_eq!(f.shift_remove("b"), Some(json!("zz")));
        let owned: Vec<(String, Value)> = f
            .clone()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            owned,
            [
                ("a".into(), json!(2)),
                ("n".into(), json!(1)),
                ("c".into(), json!("zz"))
            ]
        );
        assert_eq!(
            f.values().map(ValueRef::to_value).collect::<Vec<_>>(),
            [json!(2), json!(1), json!("zz")]
        );
        // Not a string of the record: refused, nothing set.
        assert_eq!(f.insert_text("e", 19..40), None);
        assert_eq!(f.insert_text("e", 0..1).map(|_| ()), Some(()));
        assert_eq!(Fields::new().insert_text("e", 0..0), None, "no record");
        let mut bad = Fields::over_record(Arc::from("é"), 1);
        assert_eq!(
            bad.insert_text("x", 0..1),
            None,
            "not at a character boundary"
        );
    }

    #[test]
    fn insert_replaces_in_place_and_remove_keeps_order() {
        let mut f = Fields::new();
        assert_eq!(f.insert("a", json!(1)), None);
        assert_eq!(f.insert("b", json!(2)), None);
        assert_eq!(f.insert("a", json!(3)), Some(json!(1)));
        assert_eq!(f.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(f.get("a"), Some(&json!(3)));
        f.insert("c", json!(4));
        assert_eq!(f.shift_remove("a"), Some(json!(3)));
        assert_eq!(f.keys().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(f.shift_remove("a"), None);
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"b":2,"c":4}"#,
            "serialized in insertion order"
        );
    }

    #[test]
    fn the_index_agrees_with_the_list_across_its_threshold() {
        for n in [INDEX_FROM - 1, INDEX_FROM, INDEX_FROM * 3] {
            let mut f = sample(n);
            assert_eq!(f.index.is_some(), n >= INDEX_FROM, "{n} fields");
            for i in 0..n {
                assert_eq!(f.get(&format!("f{i}")), Some(&json!(i)), "f{i} of {n}");
            }
            assert_eq!(f.get("missing"), None);
            // A duplicate replaces, never appends, indexed or not.
            f.insert("f0", json!("again"));
            assert_eq!(f.len(), n);
            assert_eq!(f.get("f0"), Some(&json!("again")));
            // Removal shifts positions; the index must follow.
            f.shift_remove("f0");
            for i in 1..n {
                assert_eq!(
                    f.get(&format!("f{i}")),
                    Some(&json!(i)),
                    "f{i} of {n} after removal"
                );
            }
            assert_eq!(f.len(), n - 1);
        }
    }

    #[test]
    fn names_with_one_tag_stay_apart() {
        // Same length, first, middle and last byte: one tag, one bucket.
        assert_eq!(tag("aqxb"), tag("arxb"));
        let mut f = Fields::new();
        f.insert("aqxb", json!(1));
        assert_eq!(f.get("arxb"), None, "a shared tag is not a match");
        f.insert("arxb", json!(2));
        assert_eq!(
            (f.get("aqxb"), f.get("arxb")),
            (Some(&json!(1)), Some(&json!(2)))
        );
        f.shift_remove("aqxb");
        assert_eq!(f.get("aqxb"), None);
        assert_eq!(f.get("arxb"), Some(&json!(2)), "the shared bucket survives");
        f.shift_remove("arxb");
        assert!(f.first.0.iter().all(|&b| b == 0), "no names, empty buckets");
        assert_eq!(f.get(""), None);
    }

    proptest::proptest! {
        /// Inserts and removals against a plain list of pairs: every name
        /// is found exactly where the list has it, across the index
        /// threshold and with names short enough to share tags and buckets.
        #[test]
        fn lookups_agree_with_a_plain_list(
            ops in proptest::collection::vec(("[a-c]{0,3}", proptest::bool::weighted(0.8)), 0..80),
        ) {
            let mut fields = Fields::new();
            let mut model: Vec<(String, usize)> = Vec::new();
            for (i, (name, insert)) in ops.iter().enumerate() {
                if *insert {
                    fields.insert(name.as_str(), json!(i));
                    match model.iter_mut().find(|(k, _)| k == name) {
                        Some(slot) => slot.1 = i,
                        None => model.push((name.clone(), i)),
                    }
                } else {
                    fields.shift_remove(name);
                    model.retain(|(k, _)| k != name);
                }
                for (probe, _) in &ops {
                    let want = model.iter().find(|(k, _)| k == probe).map(|(_, v)| json!(v));
                    proptest::prop_assert_eq!(fields.get(probe), want.as_ref(), "{}", probe);
                }
            }
            let names: Vec<&str> = model.iter().map(|(k, _)| k.as_str()).collect();
            proptest::prop_assert_eq!(fields.keys().collect::<Vec<_>>(), names);
        }
    }

    #[test]
    fn a_dot_is_found_wherever_it_is_in_a_name() {
        for len in 0..20 {
            let plain = "x".repeat(len);
            assert!(!has_dot(plain.as_bytes()), "{plain}");
            for at in 0..len {
                let mut name = plain.clone().into_bytes();
                name[at] = b'.';
                assert!(has_dot(&name), "{}", String::from_utf8_lossy(&name));
            }
        }
        // Bytes one off a dot, and multi-byte characters, are not dots.
        assert!(!has_dot("-/,n\u{e9}\u{2024}abcdefgh".as_bytes()));
    }

    #[test]
    fn dotted_names_are_noticed_through_replacement_and_removal() {
        let mut f = Fields::new();
        assert!(!f.has_dotted_key());
        f.insert("a.b", json!(1));
        f.insert("a.b", json!(2));
        f.insert("c", json!(3));
        assert!(f.has_dotted_key());
        f.shift_remove("a.b");
        assert!(!f.has_dotted_key(), "forgotten on removal");
    }

    #[test]
    fn the_key_cache_shares_names_and_stays_bounded() {
        let mut cache = KeyCache::default();
        let a = cache.name(0, "Image");
        let b = cache.name(0, "Image");
        assert!(Arc::ptr_eq(&a, &b), "same name at the same position");
        let c = cache.name(1, "CommandLine");
        // A shifted position still finds the name.
        let d = cache.name(0, "CommandLine");
        assert!(Arc::ptr_eq(&c, &d));
        assert_eq!(&*cache.name(0, "User"), "User");
        for i in 0..KEY_CACHE_POSITIONS * 2 {
            assert_eq!(&*cache.name(i, &format!("k{i}")), format!("k{i}"));
        }
        assert_eq!(cache.by_position.len(), KEY_CACHE_POSITIONS);
    }

    #[test]
    fn converts_to_and_from_json_objects_keeping_order() {
        let value = json!({"z": 1, "a": {"nested": true}, "m": [1, 2]});
        let map = value.as_object().unwrap().clone();
        let fields = Fields::from(map);
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
        assert_eq!(serde_json::to_value(&fields).unwrap(), value);
        let reordered = Fields::from(
            json!({"m": [1, 2], "a": {"nested": true}, "z": 1})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(
            reordered, fields,
            "equality ignores order, like JSON objects"
        );
        assert_ne!(sample(2), sample(3));
    }
}

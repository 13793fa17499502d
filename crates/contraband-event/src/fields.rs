//! The top level of an event's fields: names and values in input order.
//!
//! Not serde_json's `Map`: with `preserve_order` that is an `IndexMap`
//! hashed with SipHash, and an event is built once but looked up twenty-odd
//! times (prefilter, rules, enrichment). A process event has a dozen or two
//! fields, and comparing a name's length and bytes against that many
//! short keys costs a fraction of hashing it once. Objects past
//! [`INDEX_FROM`] keys (rare, and possibly hostile) get a hash index so a
//! lookup never walks a long list.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

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
}

/// One name and value of [`Fields`] (its iterators' storage).
#[derive(Clone)]
pub struct Entry {
    /// [`tag`] of `name`: a list walk compares this before any text.
    tag: u32,
    /// 1 + the position of the next name in this one's tag bucket, or 0.
    next_in_bucket: u8,
    name: Arc<str>,
    value: Value,
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

    pub fn with_capacity(n: usize) -> Fields {
        Fields {
            entries: Vec::with_capacity(n),
            ..Fields::default()
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

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].value)
    }

    /// Does some name contain a dot (a flat spelling of a nested name)?
    pub fn has_dotted_key(&self) -> bool {
        *self
            .dotted
            .get_or_init(|| self.entries.iter().any(|e| e.name.contains('.')))
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
        let tag = tag(key.as_ref());
        if let Some(i) = self.position_tagged(key.as_ref(), tag) {
            return Some(std::mem::replace(&mut self.entries[i].value, value));
        }
        self.push_new(tag, key.into(), value);
        None
    }

    /// Sets `key` to `value` unless it already has one.
    pub fn insert_if_absent(&mut self, key: &str, value: Value) {
        let tag = tag(key);
        if self.position_tagged(key, tag).is_none() {
            self.push_new(tag, Arc::from(key), value);
        }
    }

    /// Appends a name known to be absent (with its [`tag`]), keeping the
    /// index in step.
    fn push_new(&mut self, tag: u32, name: Arc<str>, value: Value) {
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
        Some(value)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.into_iter()
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|e| &*e.name)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|e| &e.value)
    }
}

/// Field names a decoder has met, by position. The records of one stream
/// mostly repeat the same names in the same order, so the name a record has
/// at a position is usually the one the previous record had there, and
/// sharing it costs a comparison instead of an allocation.
#[derive(Default)]
pub struct KeyCache {
    by_position: Vec<Arc<str>>,
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
        } else if position == known && known < KEY_CACHE_POSITIONS {
            self.by_position.push(new.clone());
        }
        new
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Equal when both hold the same names with equal values, in any order
/// (as JSON objects compare).
impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
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

impl IntoIterator for Fields {
    type Item = (Arc<str>, Value);
    type IntoIter = std::iter::Map<std::vec::IntoIter<Entry>, fn(Entry) -> (Arc<str>, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter().map(|e| (e.name, e.value))
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a Value);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> (&'a str, &'a Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|e| (&*e.name, &e.value))
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
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

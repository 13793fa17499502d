//! The top level of an event's fields: names and values in input order.
//!
//! Not serde_json's `Map`: with `preserve_order` that is an `IndexMap`
//! hashed with SipHash, and an event is built once but looked up twenty-odd
//! times (prefilter, rules, enrichment). Names are found as
//! [`crate::names`] describes. An event whose record had the names of a
//! stream's kept [`Shape`] shares that shape's names and lookup table
//! instead of holding its own.
//!
//! A plain string read from a record is kept as its place in the record's
//! text (the record is one shared `Arc<str>` the event holds anyway):
//! most of an event's values are read as text or not at all, and building
//! a `String` per value and freeing it was a fifth of decoding an event.
//! A nested object or array is kept the same way, as a tree of places in
//! the record (see [`crate::TreeBuilder`]). Readers walk [`ValueRef`]s;
//! readers that want JSON get it built on first ask.
//!
//! A field is plain data (names and JSON values live in lists beside the
//! fields): dropping an event empties its field list without a walk over
//! each field's drop glue.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::names::{has_dot, tag, Name, NameTable};
use crate::shape::Shape;
use crate::spare::{self, SpareLists};
use crate::tree::{Backing, TreeBuilder, NULL};
use crate::ValueRef;

/// An event's top-level fields, in the order the record gave them. Like a
/// JSON object, a name appears once: inserting it again replaces the value
/// in its first position.
///
/// Names are shared (`Arc<str>`): a stream's events repeat the same dozen
/// names, and a decoder that keeps them (see [`crate::KeyCache`]) saves an
/// allocation and a free per field per event. The first fields may be
/// named by a [`Shape`], shared whole.
#[derive(Clone, Default)]
pub struct Fields {
    /// The names of `entries[..shaped]` (a shape has at most 64).
    shape: Option<Arc<Shape>>,
    shaped: u8,
    /// The values, in order.
    entries: Vec<Slot>,
    /// The names of `entries[shaped..]`, the fields' own.
    own: Option<Box<OwnNames>>,
    /// Whether some name contains a dot, found on first need (most
    /// events are never asked): with none, a dotted path can only mean
    /// nesting, and resolving it takes one lookup per level.
    dotted: Dotted,
    /// The record [`Slot::Text`] values are places in, the nodes of
    /// [`Slot::Tree`] values and the values of [`Slot::Json`] ones.
    backing: Backing,
    /// Text and tree values as JSON, for readers that ask for `&Value`.
    built: Built,
}

/// Names of fields past their shape's, in order, and where each is.
/// Boxed: most events of a stream are named by a shape alone, and every
/// event is moved several times.
#[derive(Clone, Default)]
struct OwnNames {
    names: Vec<Name>,
    table: NameTable,
}

thread_local! {
    /// Field lists of dropped [`Fields`] (see [`crate::spare`]).
    static SPARE_ENTRIES: SpareLists<Slot> = const { SpareLists::new() };
}

/// The largest field list kept: 64 x 12 bytes.
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

/// The JSON form of each field held as text or a tree, built on first
/// ask ([`Fields::get`], [`Fields::iter`]): one cell per field, made when
/// the first is asked for (most events never are), and forgotten whenever
/// the fields change.
#[derive(Clone, Default)]
struct Built(OnceLock<Box<[OnceLock<Value>]>>);

impl Built {
    /// The cell of field `i` of `len`.
    fn cell(&self, i: usize, len: usize) -> Option<&OnceLock<Value>> {
        self.0
            .get_or_init(|| (0..len).map(|_| OnceLock::new()).collect())
            .get(i)
    }
}

/// Whether some name has a dot, unknown until asked: 0, then 1 (no) or
/// 2 (yes). Two threads asking at once both find the same answer.
#[derive(Default)]
struct Dotted(AtomicU8);

impl Dotted {
    #[inline]
    fn get_or_find(&self, find: impl FnOnce() -> bool) -> bool {
        match self.0.load(Ordering::Relaxed) {
            0 => {
                let found = find();
                self.0.store(1 + u8::from(found), Ordering::Relaxed);
                found
            }
            known => known == 2,
        }
    }
}

impl Clone for Dotted {
    fn clone(&self) -> Dotted {
        Dotted(AtomicU8::new(self.0.load(Ordering::Relaxed)))
    }
}

/// A field's value: JSON, or a plain string left in the record until a
/// reader asks for it as JSON, or a tree of such places. Plain data: what
/// it names lives in [`Fields::backing`].
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Value `i` of the backing's JSON values.
    Json(u32),
    /// Byte range in the backing's record, checked when it was set.
    Text { start: u32, end: u32 },
    /// An object or array: node `root` of the backing's tree.
    Tree { root: u32 },
}

/// What a field a decoder reads next is named: the next name of its
/// fields' shape, or a name of its own. See [`crate::KeyCache::name_next`].
#[derive(Clone, Copy, Debug)]
pub enum FieldName<'n> {
    Shaped,
    Own(&'n Arc<str>),
}

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    /// Room for `n` fields. The list is one a dropped `Fields` left on
    /// this thread when there is one: a record's list is larger than what
    /// glibc serves quickly from its per-thread cache.
    pub fn with_capacity(n: usize) -> Fields {
        let mut fields = Fields::with_backing(n, Backing::default());
        // Without a record every value is held as JSON.
        fields.backing.jsons.reserve(n);
        fields
    }

    /// Room for `n` fields whose values may stay in `record`
    /// ([`Fields::set_text`]).
    pub fn over_record(record: Arc<str>, n: usize) -> Fields {
        let backing = Backing {
            record: Some(record),
            nodes: Vec::new(),
            jsons: Vec::new(),
        };
        Fields::with_backing(n, backing)
    }

    fn with_backing(n: usize, backing: Backing) -> Fields {
        Fields {
            shape: None,
            shaped: 0,
            entries: spare::take(&SPARE_ENTRIES, n),
            own: None,
            dotted: Dotted::default(),
            backing,
            built: Built::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// How many fields the shape names (the first ones).
    #[inline]
    fn shaped(&self) -> usize {
        usize::from(self.shaped)
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
        if let Some(shape) = &self.shape {
            let found = shape
                .table
                .find(key, tag, self.shaped(), |i| shape.names.get(i));
            if found.is_some() {
                return found;
            }
        }
        let own = self.own.as_deref()?;
        own.table
            .find(key, tag, usize::MAX, |j| own.names.get(j))
            .map(|j| self.shaped() + j)
    }

    /// Where `key` is among the fields, for [`Fields::value_at`]: the same
    /// for fields read alike (same names, same order).
    pub fn position_of(&self, key: &str) -> Option<usize> {
        self.position(key)
    }

    /// The value at `position` (see [`Fields::position_of`]), as it is held.
    #[inline]
    pub fn value_at(&self, position: usize) -> Option<ValueRef<'_>> {
        self.entries.get(position).map(|&s| self.value_ref(s))
    }

    /// The value of `key` as JSON (a string kept as text is built now, once).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| self.json(i))
    }

    /// The value of `key`, as it is held.
    #[inline]
    pub fn get_ref(&self, key: &str) -> Option<ValueRef<'_>> {
        self.position(key).map(|i| self.value_ref(self.entries[i]))
    }

    #[inline]
    fn value_ref(&self, slot: Slot) -> ValueRef<'_> {
        slot_ref(&self.backing, slot)
    }

    /// Field `i`'s value as JSON.
    fn json(&self, i: usize) -> &Value {
        let slot = self.entries[i];
        if let Slot::Json(j) = slot {
            return self.backing.json(j);
        }
        // Every change empties the cells, so there is one for each field.
        match self.built.cell(i, self.entries.len()) {
            Some(cell) => cell.get_or_init(|| self.value_ref(slot).to_value()),
            None => &NULL,
        }
    }

    /// A slot for `value`, kept as JSON beside the fields.
    #[inline]
    fn json_slot(&mut self, value: Value) -> Slot {
        Slot::Json(self.backing.keep_json(value))
    }

    /// The fields changed (a value, a name, their number): JSON built for
    /// them may be stale, and is forgotten.
    #[inline]
    fn changed(&mut self) {
        if self.built.0.get().is_some() {
            self.built = Built::default();
        }
    }

    /// The name of field `i`.
    #[inline]
    fn name_of(&self, i: usize) -> &str {
        self.shared_name_of(i).map_or("", |n| &**n)
    }

    /// [`Fields::name_of`], shared. `Some` for every field.
    #[inline]
    fn shared_name_of(&self, i: usize) -> Option<&Arc<str>> {
        match i.checked_sub(self.shaped()) {
            Some(j) => self.own_names().get(j).map(|n| &n.text),
            None => shape_name(self.shape.as_deref(), i),
        }
    }

    /// Does some name contain a dot (a flat spelling of a nested name)?
    pub fn has_dotted_key(&self) -> bool {
        self.dotted.get_or_find(|| {
            self.shape
                .as_ref()
                .is_some_and(|s| s.first_dot < self.shaped())
                || self.own_names().iter().any(|n| has_dot(n.text.as_bytes()))
        })
    }

    /// The names of the fields past the shape's, in order.
    #[inline]
    fn own_names(&self) -> &[Name] {
        self.own.as_deref().map_or(&[], |own| &own.names)
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
        let slot = self.json_slot(value);
        self.insert_slot(key, slot)
    }

    /// Sets field `name` to the string at `range` of the record these
    /// fields are [over](Fields::over_record), which must hold no escapes:
    /// it is the value as it stands. `None`, and nothing set, when there
    /// is no record, `range` is not a string in it, or `name` is
    /// [`FieldName::Shaped`] and the shape has no next name for them.
    #[inline]
    pub fn set_text(&mut self, name: FieldName<'_>, range: Range<usize>) -> Option<()> {
        let slot = self.text_slot(range)?;
        self.set_slot(name, slot)
    }

    /// The slot of the string at `range` of the record, if it is one.
    #[inline]
    fn text_slot(&self, range: Range<usize>) -> Option<Slot> {
        self.backing.record.as_deref()?.get(range.clone())?;
        Some(Slot::Text {
            start: u32::try_from(range.start).ok()?,
            end: u32::try_from(range.end).ok()?,
        })
    }

    /// [`Fields::set_text`] for a field that keeps a value it has:
    /// `Some(false)`, and nothing set, when `name` has one.
    pub fn set_text_if_absent(&mut self, name: &Arc<str>, range: Range<usize>) -> Option<bool> {
        let slot = self.text_slot(range)?;
        Some(self.push_if_absent(name, |_| slot))
    }

    /// [`Fields::insert`] for a field that keeps a value it has: whether
    /// `value` was set.
    pub fn set_json_if_absent(&mut self, name: &Arc<str>, value: Value) -> bool {
        self.push_if_absent(name, |fields| fields.json_slot(value))
    }

    /// Appends `name` with the slot `make` gives, unless it is there: the
    /// slot is made only then (a JSON slot takes a place in the backing).
    fn push_if_absent(&mut self, name: &Arc<str>, make: impl FnOnce(&mut Fields) -> Slot) -> bool {
        let tag = tag(name);
        if self.position_tagged(name, tag).is_some() {
            return false;
        }
        let slot = make(self);
        self.push_new(tag, Arc::clone(name), slot);
        true
    }

    /// Sets field `name` to the tree [`Fields::tree`] built with root
    /// `root`. `None`, and nothing set, when there is no such node (or, as
    /// for [`Fields::set_text`], no next name in the shape).
    pub fn set_tree(&mut self, name: FieldName<'_>, root: u32) -> Option<()> {
        if root as usize >= self.backing.nodes.len() {
            return None;
        }
        self.set_slot(name, Slot::Tree { root })
    }

    /// Sets field `name` to `value` (`None`, and nothing set, as for
    /// [`Fields::set_text`]).
    #[inline]
    pub fn set_json(&mut self, name: FieldName<'_>, value: Value) -> Option<()> {
        let slot = self.json_slot(value);
        self.set_slot(name, slot)
    }

    #[inline(always)]
    fn set_slot(&mut self, name: FieldName<'_>, slot: Slot) -> Option<()> {
        match name {
            FieldName::Shaped => self.push_shaped(slot),
            FieldName::Own(name) => {
                self.insert_slot(Arc::clone(name), slot);
                Some(())
            }
        }
    }

    /// What the fields' values are read from (for tests of the tree).
    #[cfg(test)]
    pub(crate) fn backing(&self) -> &Backing {
        &self.backing
    }

    /// A builder of a nested value of the record these fields are
    /// [over](Fields::over_record), to set with [`Fields::set_tree`].
    pub fn tree(&mut self) -> TreeBuilder<'_> {
        TreeBuilder::new(&mut self.backing)
    }

    fn insert_slot<K: AsRef<str> + Into<Arc<str>>>(
        &mut self,
        key: K,
        value: Slot,
    ) -> Option<Value> {
        let tag = tag(key.as_ref());
        if let Some(i) = self.position_tagged(key.as_ref(), tag) {
            self.changed();
            let old = std::mem::replace(&mut self.entries[i], value);
            return Some(slot_into_json(&mut self.backing, old));
        }
        self.push_new(tag, key.into(), value);
        None
    }

    /// Appends a name known to be absent (with its [`tag`]).
    fn push_new(&mut self, tag: u32, name: Arc<str>, value: Slot) {
        self.dotted = Dotted::default();
        self.changed();
        let mut name = Name::new(tag, name);
        let room = self.entries.capacity() - self.shaped();
        let own = self.own.get_or_insert_with(|| {
            Box::new(OwnNames {
                names: Vec::with_capacity(room),
                table: NameTable::default(),
            })
        });
        own.table.push(&mut name, own.names.len(), own.names.iter());
        own.names.push(name);
        self.entries.push(value);
    }

    /// Removes `key`, keeping the others in order.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        if i < self.shaped() {
            self.unshare();
        }
        let value = self.entries.remove(i);
        // Past the shape (all of them, once unshared): an own name.
        if let Some(own) = self.own.as_deref_mut() {
            own.names.remove(i - usize::from(self.shaped));
        }
        self.dotted = Dotted::default();
        self.changed();
        // Positions after `i` moved; removals are rare (a decoder taking
        // out a key it handles itself), so linking afresh is fine.
        self.link_own();
        Some(slot_into_json(&mut self.backing, value))
    }

    /// Gives every field its own name, leaving the shape.
    fn unshare(&mut self) {
        if let Some(shape) = self.shape.take() {
            let shaped = shape.names.iter().take(self.shaped()).cloned();
            let own = self.own.get_or_insert_with(Box::default);
            own.names.splice(0..0, shaped);
        }
        self.shaped = 0;
        self.link_own();
    }

    /// Builds the table of the fields' own names afresh.
    fn link_own(&mut self) {
        if let Some(own) = self.own.as_deref_mut() {
            own.table = NameTable::of(own.names.len(), own.names.iter_mut());
        }
    }

    /// Is `name` the next name of these fields' shape (which named all of
    /// them so far)?
    #[inline]
    pub(crate) fn shape_has_next(&self, name: &Arc<str>) -> bool {
        self.shape.as_ref().is_some_and(|s| self.fits(s, name))
    }

    /// Could `shape` name these fields, and next `name`? It must start
    /// with their names, all given by a shape so far.
    #[inline]
    pub(crate) fn fits(&self, shape: &Shape, name: &Arc<str>) -> bool {
        self.entries.len() == self.shaped()
            && shape.has_at(self.shaped(), name)
            && self
                .shape
                .as_ref()
                .is_none_or(|mine| mine.shares_prefix(shape, self.shaped()))
    }

    /// Names these fields by `shape` from now on ([`Fields::fits`]).
    pub(crate) fn take_shape(&mut self, shape: Arc<Shape>) {
        self.shape = Some(shape);
    }

    /// Appends `slot` under the next name of the fields' shape. `None`,
    /// and nothing set, when the shape has no next name for them.
    #[inline]
    fn push_shaped(&mut self, slot: Slot) -> Option<()> {
        let shaped = self.shaped();
        if self.shape.as_ref()?.len() <= shaped || self.entries.len() != shaped {
            return None;
        }
        self.entries.push(slot);
        self.shaped += 1;
        self.dotted = Dotted::default();
        self.changed();
        Some(())
    }

    /// The shape naming these fields, when it names all of them and they
    /// have all its names.
    #[inline]
    pub(crate) fn whole_shape(&self) -> Option<&Arc<Shape>> {
        self.shape
            .as_ref()
            .filter(|s| s.len() == self.shaped() && self.entries.len() == self.shaped())
    }

    /// Are these fields' names, in order, `shape`'s?
    pub(crate) fn named_as(&self, shape: &Shape) -> bool {
        self.len() == shape.len()
            && self
                .names_shared()
                .zip(&shape.names)
                .all(|(mine, theirs)| *mine == theirs.text)
    }

    /// The id of the [`Shape`] these fields' names are, when they are one
    /// whole: fields with the same id have the same names at the same
    /// positions ([`Fields::value_at`]).
    #[inline]
    pub fn shape_id(&self) -> Option<u64> {
        self.whole_shape().map(|s| s.id())
    }

    /// The names, in order, to share.
    pub(crate) fn shared_names(&self) -> impl Iterator<Item = Arc<str>> + '_ {
        self.names_shared().cloned()
    }

    /// The names, in order, as shared.
    fn names_shared(&self) -> impl Iterator<Item = &Arc<str>> {
        (0..self.len()).filter_map(|i| self.shared_name_of(i))
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
            .enumerate()
            .map(|(i, &s)| (self.name_of(i), self.value_ref(s)))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        (0..self.len()).map(|i| self.name_of(i))
    }

    /// Values as they are held (see [`Fields::refs`]).
    pub fn values(&self) -> impl ExactSizeIterator<Item = ValueRef<'_>> {
        self.entries.iter().map(|&s| self.value_ref(s))
    }
}

/// The name `shape` gives position `i`.
#[inline]
fn shape_name(shape: Option<&Shape>, i: usize) -> Option<&Arc<str>> {
    Some(&shape?.names.get(i)?.text)
}

/// A slot's value, read from `backing`.
#[inline]
fn slot_ref(backing: &Backing, slot: Slot) -> ValueRef<'_> {
    match slot {
        Slot::Json(i) => ValueRef::Json(backing.json(i)),
        Slot::Text { start, end } => ValueRef::Text(backing.text(start, end)),
        Slot::Tree { root } => backing.value_ref(root),
    }
}

/// Takes a slot out as an owned value (its JSON value, if held as JSON:
/// nothing else names it).
fn slot_into_json(backing: &mut Backing, slot: Slot) -> Value {
    match slot {
        Slot::Json(i) => backing.take_json(i),
        Slot::Text { .. } | Slot::Tree { .. } => slot_ref(backing, slot).to_value(),
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
    /// A map's names are unique: each is appended without a lookup.
    fn from(map: Map<String, Value>) -> Fields {
        let mut fields = Fields::with_capacity(map.len());
        for (k, v) in map {
            let slot = fields.json_slot(v);
            fields.push_new(tag(&k), Arc::from(k), slot);
        }
        fields
    }
}

/// [`Fields`]' names and values, taken out as JSON.
pub struct IntoIter {
    backing: Backing,
    shape: Option<Arc<Shape>>,
    shaped: usize,
    entries: std::iter::Enumerate<std::vec::IntoIter<Slot>>,
    own_names: std::vec::IntoIter<Name>,
}

impl Iterator for IntoIter {
    type Item = (Arc<str>, Value);
    fn next(&mut self) -> Option<(Arc<str>, Value)> {
        let (i, slot) = self.entries.next()?;
        let name = if i < self.shaped {
            shape_name(self.shape.as_deref(), i).cloned()
        } else {
            self.own_names.next().map(|n| n.text)
        };
        let name = name.unwrap_or_else(|| Arc::from(""));
        Some((name, slot_into_json(&mut self.backing, slot)))
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
            shape: self.shape.take(),
            shaped: self.shaped(),
            entries: std::mem::take(&mut self.entries).into_iter().enumerate(),
            own_names: self
                .own
                .take()
                .map(|own| own.names)
                .unwrap_or_default()
                .into_iter(),
        }
    }
}

/// [`Fields`]' names and values as JSON (see [`Fields::iter`]).
pub struct Iter<'a> {
    fields: &'a Fields,
    positions: std::ops::Range<usize>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Value);
    fn next(&mut self) -> Option<(&'a str, &'a Value)> {
        let i = self.positions.next()?;
        Some((self.fields.name_of(i), self.fields.json(i)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.positions.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        Iter {
            fields: self,
            positions: 0..self.len(),
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
    use crate::names::INDEX_FROM;
    use crate::KeyCache;
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
    fn fields_are_plain_data_freed_without_a_walk() {
        assert!(
            !std::mem::needs_drop::<Slot>(),
            "a field must not make freeing an event walk every field"
        );
        assert!(std::mem::size_of::<Slot>() <= 12);
    }

    #[test]
    fn json_built_for_a_field_follows_its_changes() {
        let record: Arc<str> = Arc::from(r#"{"a":"xy","b":"zz","c":"q"}"#);
        let mut f = Fields::over_record(record, 4);
        let (a, b, c) = ("a".into(), "b".into(), "c".into());
        f.set_text(FieldName::Own(&a), 6..8).unwrap();
        f.set_text(FieldName::Own(&b), 15..17).unwrap();
        f.set_text(FieldName::Own(&c), 24..25).unwrap();
        assert_eq!(f.get("a"), Some(&json!("xy")));
        assert_eq!(f.get("b"), Some(&json!("zz")));
        // Text replaced by other text: the JSON built for it is stale.
        f.set_text(FieldName::Own(&a), 24..25).unwrap();
        assert_eq!(f.get("a"), Some(&json!("q")));
        // A removal moves later fields down a position.
        assert_eq!(f.shift_remove("a"), Some(json!("q")));
        assert_eq!(f.get("b"), Some(&json!("zz")));
        assert_eq!(f.get("c"), Some(&json!("q")));
        let pairs: Vec<(&str, &Value)> = f.iter().collect();
        assert_eq!(pairs, [("b", &json!("zz")), ("c", &json!("q"))]);
    }

    #[test]
    fn a_value_set_if_absent_keeps_the_first() {
        let record: Arc<str> = Arc::from("pid=7 pid=8");
        let mut f = Fields::over_record(record, 2);
        let (pid, uid): (Arc<str>, Arc<str>) = ("pid".into(), "uid".into());
        assert_eq!(f.set_text_if_absent(&pid, 4..5), Some(true));
        assert_eq!(f.set_text_if_absent(&pid, 10..11), Some(false));
        assert!(!f.set_json_if_absent(&pid, json!(9)));
        assert_eq!(f.get_ref("pid"), Some(ValueRef::Text("7")));
        // A value refused takes no place among the JSON values.
        assert!(f.backing.jsons.is_empty());
        assert!(f.set_json_if_absent(&uid, json!(0)));
        assert_eq!(
            f.set_text_if_absent(&"x".into(), 10..99),
            None,
            "not in the record"
        );
        let pairs: Vec<(&str, &Value)> = f.iter().collect();
        assert_eq!(pairs, [("pid", &json!("7")), ("uid", &json!(0))]);
    }

    #[test]
    fn text_values_read_as_the_strings_they_are() {
        let record: Arc<str> = Arc::from(r#"{"a":"xy","n":1,"b":"zz"}"#);
        let mut f = Fields::over_record(record.clone(), 4);
        f.set_text(FieldName::Own(&"a".into()), 6..8).unwrap();
        f.insert("n", json!(1));
        f.set_text(FieldName::Own(&"b".into()), 21..23).unwrap();
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
        f.set_text(FieldName::Own(&"c".into()), 21..23).unwrap();
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
        assert_eq!(f.set_text(FieldName::Own(&"e".into()), 19..40), None);
        assert_eq!(
            f.set_text(FieldName::Own(&"e".into()), 0..1).map(|_| ()),
            Some(())
        );
        assert_eq!(
            Fields::new().set_text(FieldName::Own(&"e".into()), 0..0),
            None,
            "no record"
        );
        let mut bad = Fields::over_record(Arc::from("é"), 1);
        assert_eq!(
            bad.set_text(FieldName::Own(&"x".into()), 0..1),
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
        assert!(
            f.own.as_ref().is_some_and(|own| own.table.is_empty()),
            "no names, empty buckets"
        );
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

    /// Reads a record with `names` (values their positions) the way a
    /// decoder does, through a key cache.
    fn read(keys: &mut KeyCache, names: &[&str]) -> (Fields, Option<u64>) {
        let mut f = Fields::new();
        for (p, &name) in names.iter().enumerate() {
            let name = keys.name(p, name);
            let name = keys.name_next(&mut f, &name);
            f.set_json(name, json!(p)).unwrap();
        }
        let id = keys.record_read(&f);
        (f, id)
    }

    /// What [`read`] must give: the names inserted one by one.
    fn plain(names: &[&str]) -> Fields {
        let mut f = Fields::new();
        for (p, &name) in names.iter().enumerate() {
            f.insert(name, json!(p));
        }
        f
    }

    /// Everything a reader can see of `f`, in order.
    fn seen(f: &Fields) -> (Vec<(String, Value)>, String, bool) {
        let pairs = f.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
        let text = serde_json::to_string(f).unwrap();
        (pairs, text, f.has_dotted_key())
    }

    #[test]
    fn records_with_a_kept_list_of_names_share_its_shape() {
        let mut keys = KeyCache::default();
        let names = ["Image", "CommandLine", "User", "a.b"];
        let (first, first_id) = read(&mut keys, &names);
        assert!(
            first.shape.is_none(),
            "the first record names its own fields"
        );
        let (second, second_id) = read(&mut keys, &names);
        assert!(second.whole_shape().is_some(), "the next one shares them");
        assert!(second.own.is_none());
        assert_eq!((first_id, second_id.is_some()), (second_id, true));
        assert_eq!(seen(&second), seen(&plain(&names)));
        assert_eq!(second.get("User"), Some(&json!(2)));
        assert_eq!(second.position_of("a.b"), Some(3));
        assert_eq!(second.get("Missing"), None);
        let names_back: Vec<Arc<str>> = second.clone().into_iter().map(|(k, _)| k).collect();
        assert_eq!(names_back, names.map(Arc::from));

        // A record with the first names only: a prefix of the shape, then
        // a shape of its own (another id).
        let (short, short_id) = read(&mut keys, &names[..2]);
        assert_eq!(short.shaped, 2);
        assert_eq!(seen(&short), seen(&plain(&names[..2])));
        assert_eq!(short.get("User"), None, "past the prefix");
        assert!(
            !short.has_dotted_key(),
            "the dotted name is past the prefix"
        );
        assert_ne!(short_id, second_id);
        // Both kept: each record finds its own again.
        assert_eq!(read(&mut keys, &names).1, second_id);
        assert_eq!(read(&mut keys, &names[..2]).1, short_id);
    }

    #[test]
    fn a_shaped_field_can_be_replaced_removed_and_added_to() {
        let mut keys = KeyCache::default();
        let names = ["a", "b", "c"];
        read(&mut keys, &names);
        let (mut f, _) = read(&mut keys, &names);
        assert!(f.whole_shape().is_some());
        assert_eq!(f.insert("b", json!("new")), Some(json!(1)));
        assert!(f.whole_shape().is_some(), "a value changed, not a name");
        f.insert("d.e", json!(4));
        assert!(f.has_dotted_key());
        assert_eq!(f.get("d.e"), Some(&json!(4)));
        assert_eq!(f.shift_remove("a"), Some(json!(0)));
        assert!(f.shape.is_none(), "a removed shaped name unshares the rest");
        assert_eq!(f.keys().collect::<Vec<_>>(), ["b", "c", "d.e"]);
        assert_eq!(
            (f.get("b"), f.get("c"), f.get("a")),
            (Some(&json!("new")), Some(&json!(2)), None)
        );
    }

    proptest::proptest! {
        /// Records read through a key cache (shapes kept, switched between,
        /// left midway, names repeated) and then changed give exactly the
        /// fields their names inserted one by one give.
        #[test]
        fn shaped_fields_agree_with_plain_ones(
            records in proptest::collection::vec(
                (proptest::collection::vec("[a-d]", 0..7),
                 proptest::collection::vec(("[a-e]", proptest::bool::ANY), 0..3)),
                1..12),
        ) {
            let mut keys = KeyCache::default();
            for (names, edits) in &records {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let (mut got, id) = read(&mut keys, &names);
                let mut want = plain(&names);
                proptest::prop_assert!(id.is_some());
                for (name, insert) in edits {
                    if *insert {
                        proptest::prop_assert_eq!(got.insert(name.as_str(), json!(name)), want.insert(name.as_str(), json!(name)));
                    } else {
                        proptest::prop_assert_eq!(got.shift_remove(name), want.shift_remove(name));
                    }
                }
                proptest::prop_assert_eq!(seen(&got), seen(&want));
                for probe in ["a", "b", "c", "d", "e", "f"] {
                    proptest::prop_assert_eq!(got.get(probe), want.get(probe), "{}", probe);
                    proptest::prop_assert_eq!(got.position_of(probe), want.position_of(probe));
                }
            }
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

//! The lists of names a stream's records repeat, shared by their events.
//!
//! A stream's records mostly have one of a few lists of field names, in
//! the same order. Giving every event its own copy of each name (a shared
//! `Arc<str>` still costs a count up and down), with its own lookup table,
//! was an eighth of decoding a process event. An event whose names are a
//! kept [`Shape`]'s holds the shape instead: one count for the list, and a
//! lookup table built once per shape.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::fields::{FieldName, Fields};
use crate::names::{has_dot, tag, Name, NameTable};

/// A list of distinct field names, in order, shared by the events whose
/// records had them.
pub struct Shape {
    /// Unique for the process's life: what a reader keeps its findings
    /// about the list under (a position in memory could be reused).
    id: u64,
    pub(crate) names: Vec<Name>,
    pub(crate) table: NameTable,
    /// Position of the first name with a dot (the length when none): a
    /// prefix of the list has one when it reaches that far.
    pub(crate) first_dot: usize,
}

/// Where shape ids come from.
static NEXT_SHAPE_ID: AtomicU64 = AtomicU64::new(1);

impl Shape {
    /// The shape of `names`: `None` when a name repeats or there are more
    /// than [`KEY_CACHE_POSITIONS`].
    pub fn new(names: impl IntoIterator<Item = Arc<str>>) -> Option<Shape> {
        let mut list: Vec<Name> = Vec::new();
        for text in names {
            if list.len() == KEY_CACHE_POSITIONS || list.iter().any(|n| n.text == text) {
                return None;
            }
            list.push(Name::new(tag(&text), text));
        }
        let table = NameTable::of(list.len(), list.iter_mut());
        let first_dot = list
            .iter()
            .position(|n| has_dot(n.text.as_bytes()))
            .unwrap_or(list.len());
        Some(Shape {
            id: NEXT_SHAPE_ID.fetch_add(1, Ordering::Relaxed),
            names: list,
            table,
            first_dot,
        })
    }

    /// This shape's identifier, never another's.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Is `name` (the very text, not an equal one) this shape's name at
    /// `position`? A comparison of addresses: a decoder's kept names are
    /// the ones its shapes were built from.
    #[inline]
    pub(crate) fn has_at(&self, position: usize, name: &Arc<str>) -> bool {
        self.names
            .get(position)
            .is_some_and(|n| Arc::ptr_eq(&n.text, name))
    }

    /// Do this shape and `other` start with the same `n` names?
    pub(crate) fn shares_prefix(&self, other: &Shape, n: usize) -> bool {
        std::ptr::eq(self, other)
            || (n <= self.len()
                && n <= other.len()
                && self.names[..n]
                    .iter()
                    .zip(&other.names[..n])
                    .all(|(a, b)| a.text == b.text))
    }
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.names.iter().map(|n| &n.text))
            .finish()
    }
}

/// Field names a decoder has met, by position, and the lists of names its
/// records had lately ([`Shape`]s). The records of one stream mostly repeat
/// the same names in the same order, so the name a record has at a
/// position is usually the one the previous record had there, and sharing
/// it costs a comparison instead of an allocation.
#[derive(Default)]
pub struct KeyCache {
    by_position: Vec<Arc<str>>,
    shapes: [Option<Arc<Shape>>; KEPT_SHAPES],
    /// The kept shape replaced next.
    next_shape: usize,
    /// The kept shape the last record had: tried first.
    last_shape: usize,
}

/// Positions past this many are not remembered, nor shapes longer: memory
/// stays bounded whatever a record holds.
pub(crate) const KEY_CACHE_POSITIONS: usize = 64;

/// Shapes a [`KeyCache`] keeps (with and without a container, say).
const KEPT_SHAPES: usize = 4;

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
        // before allocating, in the kept shapes too (a name a position no
        // longer holds must still be the one its shapes were built from).
        if let Some(known) = self.by_position.iter().find(|k| &***k == name) {
            return known.clone();
        }
        let in_shapes = self.shapes.iter().flatten().flat_map(|s| &s.names);
        if let Some(known) = in_shapes.map(|n| &n.text).find(|k| &***k == name) {
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

    /// What the next field of `fields`, a member of a record named `name`
    /// (a name [`KeyCache::at`] or [`KeyCache::name`] gave), is to be
    /// named. While the record's names so far are those of a kept shape
    /// and `name` is its next, the shape names it.
    #[inline]
    pub fn name_next<'n>(&self, fields: &mut Fields, name: &'n Arc<str>) -> FieldName<'n> {
        if fields.shape_has_next(name) || self.take_shape(fields, name) {
            FieldName::Shaped
        } else {
            FieldName::Own(name)
        }
    }

    /// Names `fields` by a kept shape that can name them and next `name`,
    /// if there is one (the one the last record had is tried first).
    fn take_shape(&self, fields: &mut Fields, name: &Arc<str>) -> bool {
        let start = self.last_shape;
        let fits = (0..KEPT_SHAPES)
            .filter_map(|i| self.shapes[(start + i) % KEPT_SHAPES].as_ref())
            .find(|s| fields.fits(s, name));
        match fits {
            Some(shape) => {
                fields.take_shape(Arc::clone(shape));
                true
            }
            None => false,
        }
    }

    /// After a record was read into `fields`: the id of the shape of its
    /// names, a kept one when they are its; else a new one, built from
    /// `fields`' names and kept for the records to come. `None` for a
    /// record with too many names for a shape.
    pub fn record_read(&mut self, fields: &Fields) -> Option<u64> {
        let whole = fields.whole_shape();
        let kept = self.shapes.iter().position(|s| {
            s.as_ref().is_some_and(|s| match whole {
                Some(whole) => Arc::ptr_eq(s, whole),
                None => fields.named_as(s),
            })
        });
        if let Some(i) = kept {
            self.last_shape = i;
            return self.shapes[i].as_ref().map(|s| s.id());
        }
        if let Some(whole) = whole {
            // No longer kept, still the shape of these names.
            return Some(whole.id());
        }
        let shape = Arc::new(Shape::new(fields.shared_names())?);
        let id = shape.id();
        self.shapes[self.next_shape] = Some(shape);
        self.last_shape = self.next_shape;
        self.next_shape = (self.next_shape + 1) % KEPT_SHAPES;
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_shape_refuses_repeats_and_long_lists() {
        let names = |list: &[&str]| list.iter().map(|&n| Arc::from(n)).collect::<Vec<_>>();
        assert!(Shape::new(names(&["a", "b", "a"])).is_none());
        let long: Vec<Arc<str>> = (0..=KEY_CACHE_POSITIONS)
            .map(|i| Arc::from(format!("k{i}")))
            .collect();
        assert!(Shape::new(long.clone()).is_none());
        let most = Shape::new(long[..KEY_CACHE_POSITIONS].to_vec()).unwrap();
        assert_eq!(most.len(), KEY_CACHE_POSITIONS);
        let (one, two) = (
            Shape::new(names(&["a", "b.c"])).unwrap(),
            Shape::new(names(&["a", "b.c"])).unwrap(),
        );
        assert_ne!(one.id(), two.id(), "ids are never shared");
        assert_eq!(one.first_dot, 1);
        assert!(one.shares_prefix(&two, 2));
        assert!(!one.shares_prefix(&most, 1));
    }
}

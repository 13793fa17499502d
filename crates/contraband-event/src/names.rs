//! Finding a field by name in a short list of names.
//!
//! An event is built once but looked up twenty-odd times (prefilter, rules,
//! enrichment), and a process event has a dozen or two fields: comparing a
//! name's fingerprint and bytes against that many short keys costs a
//! fraction of hashing it once. Lists past [`INDEX_FROM`] names (rare, and
//! possibly hostile) get a keyed hash index so a lookup never walks a long
//! list. Both an event's own names and a shape's shared ones
//! ([`crate::Shape`]) are found this way.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;

/// From this many names on, lookups go through a hash index.
pub(crate) const INDEX_FROM: usize = 64;

/// A field name with what a lookup compares first.
#[derive(Clone)]
pub(crate) struct Name {
    /// [`tag`] of `text`: a list walk compares this before any text.
    pub tag: u32,
    /// 1 + the position of the next name in this one's tag bucket, or 0.
    next_in_bucket: u8,
    pub text: Arc<str>,
}

impl Name {
    pub fn new(tag: u32, text: Arc<str>) -> Name {
        Name {
            tag,
            next_in_bucket: 0,
            text,
        }
    }
}

/// A cheap fingerprint of a name, from its length and three of its bytes:
/// names that differ there (nearly all of a record's) compare as one
/// integer. Not a hash an attacker could be hurt by: equal tags still
/// compare the text, and long lists use the keyed index.
#[inline]
pub(crate) fn tag(name: &str) -> u32 {
    let b = name.as_bytes();
    let Some(&last) = b.last() else { return 0 };
    let raw = b.len() as u32
        ^ u32::from(b[0]) << 8
        ^ u32::from(b[b.len() / 2]) << 16
        ^ u32::from(last) << 24;
    raw.wrapping_mul(0x9E37_79B1)
}

/// Are `a` and `b` the same bytes? Field names are short, and for them
/// a call to `memcmp` and its setup cost more than the comparison: up to
/// 16 bytes are compared as two overlapping words each side, without one.
/// (Longer names take the call: a third and fourth word here made every
/// comparison dearer than the calls they saved.)
#[inline]
pub fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        17.. => a == b,
        8.. => {
            let word = |s: &[u8], at: usize| {
                u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"))
            };
            word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
        }
        4.. => {
            let word = |s: &[u8], at: usize| {
                u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"))
            };
            word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4)
        }
        _ => a.iter().zip(b).all(|(x, y)| x == y),
    }
}

/// Does `name` hold a dot? Eight bytes a step: asked of every name of a
/// record that a dotted path is walked over (a Kubernetes audit record's
/// ~17 names took ~1,200 instructions a byte at a time).
pub(crate) fn has_dot(name: &[u8]) -> bool {
    const ONES: u64 = u64::MAX / 255;
    // A byte equal to the dot becomes zero; a zero byte sets its high bit.
    let dotted = |word: &[u8]| {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ (ONES * u64::from(b'.'));
        w.wrapping_sub(ONES) & !w & (ONES * 0x80) != 0
    };
    let Some(last) = name.len().checked_sub(8) else {
        return name.contains(&b'.');
    };
    // The last bytes as the word ending the name (overlapping the one
    // before): a call to memchr for them cost more than the whole test.
    name.chunks_exact(8).any(dotted) || dotted(&name[last..])
}

/// Where each name of one list is: the list itself lives with its owner
/// (an event's entries, a shape's names), which hands it to each call as
/// `name_at`, position to name.
#[derive(Clone, Default)]
pub(crate) struct NameTable {
    /// Where each tag bucket's chain of names starts: a lookup walks only
    /// the names in its bucket (usually one), and a lookup of an absent
    /// name (a mapping trying its candidate time fields, a rule testing a
    /// field this source lacks) mostly ends at an empty bucket.
    first: Buckets,
    index: Option<Box<Index>>,
}

impl NameTable {
    /// The table of a whole list of `len` names, which it links through
    /// their buckets; from [`INDEX_FROM`] names on it also indexes them.
    pub fn of<'n>(len: usize, names: impl Iterator<Item = &'n mut Name>) -> NameTable {
        let mut table = NameTable::default();
        let mut index = (len >= INDEX_FROM).then(Index::default);
        for (i, name) in names.enumerate() {
            table.first.push(name, i);
            if let Some(index) = &mut index {
                index.add(i, &name.text);
            }
        }
        table.index = index.map(Box::new);
        table
    }

    /// The position of `key` (with tag `tag`), if it is below `limit`.
    #[inline]
    pub fn find<'n>(
        &self,
        key: &str,
        tag: u32,
        limit: usize,
        name_at: impl Fn(usize) -> Option<&'n Name>,
    ) -> Option<usize> {
        if let Some(index) = &self.index {
            // Names are unique: the one place a name has is past the
            // limit, or it is not there at all.
            return index.find(key, name_at).filter(|&i| i < limit);
        }
        // Positions past the limit are skipped: a chain holds later names
        // first.
        let mut at = self.first.0[bucket(tag)];
        while let Some(i) = usize::from(at).checked_sub(1) {
            let name = name_at(i)?;
            if i < limit && name.tag == tag && short_eq(name.text.as_bytes(), key.as_bytes()) {
                return Some(i);
            }
            at = name.next_in_bucket;
        }
        None
    }

    /// Adds `name`, new at position `i`, after the names `earlier` (read
    /// only when the list reaches [`INDEX_FROM`] names).
    pub fn push<'n>(&mut self, name: &mut Name, i: usize, earlier: impl Iterator<Item = &'n Name>) {
        self.first.push(name, i);
        match &mut self.index {
            Some(index) => index.add(i, &name.text),
            None if i + 1 >= INDEX_FROM => {
                let mut index = Index::build(earlier);
                index.add(i, &name.text);
                self.index = Some(Box::new(index));
            }
            None => {}
        }
    }

    /// Is there no name at all?
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.index.is_none() && self.first.0.iter().all(|&b| b == 0)
    }
}

/// The bucket of [`Buckets`] for a name with tag `tag`.
#[inline]
fn bucket(tag: u32) -> usize {
    (tag >> (32 - BUCKET_BITS)) as usize
}

const BUCKET_BITS: u32 = 6;

/// Per tag bucket, 1 + the position of a name in it (the head of its chain
/// through [`Name::next_in_bucket`]), or 0 for none. Kept while the list is
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
    /// Puts `name`, at position `i`, at the head of its bucket's chain.
    #[inline]
    fn push(&mut self, name: &mut Name, i: usize) {
        if i < INDEX_FROM {
            let head = &mut self.0[bucket(name.tag)];
            name.next_in_bucket = *head;
            *head = i as u8 + 1;
        }
    }
}

#[derive(Clone, Default)]
struct Index {
    hasher: RandomState,
    /// Each name's hash and position in the list: the hash is kept so the
    /// table can grow without the names.
    table: HashTable<(u64, usize)>,
}

impl Index {
    fn build<'n>(names: impl Iterator<Item = &'n Name>) -> Index {
        let mut index = Index::default();
        for (i, name) in names.enumerate() {
            index.add(i, &name.text);
        }
        index
    }

    fn add(&mut self, i: usize, name: &str) {
        let hash = self.hasher.hash_one(name);
        self.table.insert_unique(hash, (hash, i), |&(h, _)| h);
    }

    fn find<'n>(&self, key: &str, name_at: impl Fn(usize) -> Option<&'n Name>) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.table
            .find(hash, |&(h, j)| {
                h == hash && name_at(j).is_some_and(|n| &*n.text == key)
            })
            .map(|&(_, j)| j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_compare_equal_exactly_when_their_bytes_do() {
        let text = "ParentCommandLine, and some more words past thirty-two bytes";
        for len in 0..text.len() {
            let a = &text.as_bytes()[..len];
            assert!(short_eq(a, a.to_vec().as_slice()), "{len}");
            assert!(
                !short_eq(a, &text.as_bytes()[..len + 1]),
                "{len}: lengths differ"
            );
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!short_eq(a, &b), "{len}, byte {at} differs");
            }
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
    fn a_limit_hides_the_names_past_it_in_chains_and_in_the_index() {
        for n in [4, INDEX_FROM + 4] {
            let mut names: Vec<Name> = (0..n)
                .map(|i| {
                    let text: Arc<str> = Arc::from(format!("f{i}"));
                    Name::new(tag(&text), text)
                })
                .collect();
            let table = NameTable::of(n, names.iter_mut());
            let find = |key: &str, limit| table.find(key, tag(key), limit, |i| names.get(i));
            assert_eq!(find("f1", n), Some(1));
            assert_eq!(find("f3", n), Some(3));
            assert_eq!(find("f3", 3), None, "{n} names, past the limit");
            assert_eq!(find("f2", 3), Some(2));
            assert_eq!(find("g", n), None);
        }
    }
}

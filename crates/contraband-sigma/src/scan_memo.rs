//! What the prefilter's scan of one field's text marked, kept for the next
//! time the field holds that text.
//!
//! Field values repeat: a stream's processes run from a few hundred
//! images, under a few parents, users and working directories, and many
//! command lines recur (probes, cron jobs, supervisors). Scanning a text
//! walks the literal automaton byte by byte; hashing it and comparing it
//! with the kept copy costs a fraction of that. The memo is per thread,
//! direct-mapped and bounded: a text that collides with another (even on
//! purpose) replaces it, and costs a scan, never a wrong mark.

use contraband_event::{short_eq, text_hash};

/// Kept texts. A power of two: the slot is the hash's top bits.
const MEMO_SLOTS: usize = 1 << MEMO_SLOT_BITS;
const MEMO_SLOT_BITS: u32 = 10;
/// Longer texts are scanned every time: copying and comparing them would
/// cost much of a scan, and memory stays small.
pub(crate) const MEMO_MAX_TEXT: usize = 256;
/// A text marking more rules than this is not kept (rare: a value full of
/// the literals of a large rule set).
const MEMO_MAX_MARKS: usize = 64;

/// Per thread: texts scanned lately, each with the rule slots its scan
/// marked. At most [`MEMO_SLOTS`] x ([`MEMO_MAX_TEXT`] bytes +
/// [`MEMO_MAX_MARKS`] marks).
#[derive(Clone, Debug, Default)]
pub(crate) struct ScanMemo {
    slots: Vec<Kept>,
}

#[derive(Clone, Debug, Default)]
struct Kept {
    /// The scanning prefilter's [`crate::Prefilter`] id; 0 for none.
    prefilter: u64,
    field: u32,
    text: String,
    marks: Vec<u32>,
}

/// Which text of which field of which prefilter, and where it is kept.
#[derive(Clone, Copy)]
pub(crate) struct MemoKey<'t> {
    prefilter: u64,
    field: u32,
    text: &'t str,
    slot: usize,
}

impl<'t> MemoKey<'t> {
    /// `None` for a text too long to keep.
    #[inline]
    pub(crate) fn new(prefilter: u64, field: u32, text: &'t str) -> Option<MemoKey<'t>> {
        if text.len() > MEMO_MAX_TEXT {
            return None;
        }
        let h = text_hash(text.as_bytes()) ^ u64::from(field).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Some(MemoKey {
            prefilter,
            field,
            text,
            slot: (h >> (64 - MEMO_SLOT_BITS)) as usize,
        })
    }
}

impl ScanMemo {
    /// The marks kept for `key`'s text, if it is kept.
    #[inline]
    pub(crate) fn get(&self, key: MemoKey<'_>) -> Option<&[u32]> {
        let kept = self.slots.get(key.slot)?;
        (kept.prefilter == key.prefilter
            && kept.field == key.field
            && short_eq(kept.text.as_bytes(), key.text.as_bytes()))
        .then_some(&kept.marks[..])
    }

    /// Keeps `marks`, what scanning `key`'s text marked, in place of
    /// whatever its slot held.
    pub(crate) fn keep(&mut self, key: MemoKey<'_>, marks: &[u32]) {
        if marks.len() > MEMO_MAX_MARKS {
            return;
        }
        if self.slots.is_empty() {
            self.slots.resize_with(MEMO_SLOTS, Kept::default);
        }
        let kept = &mut self.slots[key.slot];
        kept.prefilter = key.prefilter;
        kept.field = key.field;
        kept.text.clear();
        kept.text.push_str(key.text);
        kept.marks.clear();
        kept.marks.extend_from_slice(marks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_text_is_found_only_under_its_own_key() {
        let mut memo = ScanMemo::default();
        let key = |p, f, t| MemoKey::new(p, f, t).unwrap();
        let curl = "curl -fsS http://10.0.0.1/x.sh";
        assert_eq!(memo.get(key(1, 0, curl)), None);
        memo.keep(key(1, 0, curl), &[3, 9]);
        assert_eq!(memo.get(key(1, 0, curl)), Some(&[3, 9][..]));
        assert_eq!(memo.get(key(2, 0, curl)), None, "another prefilter");
        assert_eq!(memo.get(key(1, 1, curl)), None, "another field");
        let other = "curl -fsS http://10.0.0.1/y.sh";
        assert_eq!(memo.get(key(1, 0, other)), None, "another text");
        // Too long to keep; too many marks to keep.
        assert!(MemoKey::new(1, 0, &"x".repeat(MEMO_MAX_TEXT + 1)).is_none());
        let many: Vec<u32> = (0..=MEMO_MAX_MARKS as u32).collect();
        memo.keep(key(1, 0, other), &many);
        assert_eq!(memo.get(key(1, 0, other)), None);
        // A text in the same slot replaces the one kept there.
        let first = key(1, 0, curl);
        let rival = (0..10_000)
            .map(|i| format!("{other}{i}"))
            .find(|t| MemoKey::new(1, 0, t).is_some_and(|k| k.slot == first.slot))
            .expect("some text shares the slot");
        memo.keep(first, &[1]);
        memo.keep(key(1, 0, &rival), &[2]);
        assert_eq!(memo.get(first), None);
        assert_eq!(memo.get(key(1, 0, &rival)), Some(&[2][..]));
        assert_eq!(memo.slots.len(), MEMO_SLOTS, "bounded");
    }
}

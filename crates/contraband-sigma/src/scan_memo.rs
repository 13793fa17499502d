//! What the prefilter's scan of one field's text marked, kept for the next
//! time the field holds that text.
//!
//! Field values repeat: a stream's processes run from a few hundred
//! images, under a few parents, users and working directories, and many
//! command lines recur (probes, cron jobs, supervisors). Scanning a text
//! walks the literal automaton byte by byte; hashing it and comparing it
//! with the kept copy costs a fraction of that. The memo is per thread,
//! direct-mapped and bounded. A text met again gathers credit that holds
//! its slot against a few texts that want it (most command lines are met
//! once, and would otherwise push out the images and users that repeat);
//! a text without credit is replaced. Either way a collision, even a
//! crafted one, costs a scan, never a wrong mark.

use contraband_event::{short_eq, text_hash};

/// Kept texts. A power of two: the slot is the hash's top bits.
const MEMO_SLOTS: usize = 1 << MEMO_SLOT_BITS;
const MEMO_SLOT_BITS: u32 = 11;
/// Longer texts are scanned every time: copying and comparing them would
/// cost much of a scan, and memory stays small.
pub(crate) const MEMO_MAX_TEXT: usize = 256;
/// A text marking more rules than this is not kept (rare: a value full of
/// the literals of a large rule set).
pub(crate) const MEMO_MAX_MARKS: usize = 64;

/// Per thread: texts scanned lately, each with the rule slots its scan
/// marked. At most [`MEMO_SLOTS`] x ([`MEMO_MAX_TEXT`] bytes +
/// [`MEMO_MAX_MARKS`] marks).
#[derive(Clone, Debug, Default)]
pub(crate) struct ScanMemo {
    slots: Vec<Kept>,
}

#[derive(Clone, Debug, Default)]
struct Kept {
    /// The kept key's whole hash: a text that only shares the slot is told
    /// apart here, in the slot's own cache line, without reading the kept
    /// text (a miss of its own, and most texts looked up are new).
    hash: u64,
    /// The scanning prefilter's [`crate::Prefilter`] id; 0 for none.
    prefilter: u64,
    field: u32,
    text: String,
    marks: Vec<u32>,
    /// Hits not yet spent: a text met again keeps its slot against this
    /// many texts that want it, so a stream of one-off command lines does
    /// not push out the images and users that repeat.
    credit: u8,
}

/// Most credit a kept text gathers.
const MAX_CREDIT: u8 = 3;

/// Which text of which field of which prefilter, and where it is kept.
#[derive(Clone, Copy)]
pub(crate) struct MemoKey<'t> {
    prefilter: u64,
    field: u32,
    text: &'t str,
    hash: u64,
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
            hash: h,
            slot: (h >> (64 - MEMO_SLOT_BITS)) as usize,
        })
    }
}

impl ScanMemo {
    /// The marks kept for `key`'s text, if it is kept.
    #[inline]
    pub(crate) fn get(&mut self, key: MemoKey<'_>) -> Option<&[u32]> {
        let kept = self.slots.get_mut(key.slot)?;
        let hit = kept.hash == key.hash
            && kept.prefilter == key.prefilter
            && kept.field == key.field
            && short_eq(kept.text.as_bytes(), key.text.as_bytes());
        if !hit {
            return None;
        }
        kept.credit = (kept.credit + 1).min(MAX_CREDIT);
        Some(&kept.marks[..])
    }

    /// Keeps `marks`, what scanning `key`'s text marked, in its slot:
    /// unless the text there has credit left, which this spends one of.
    pub(crate) fn keep(&mut self, key: MemoKey<'_>, marks: &[u32]) {
        if marks.len() > MEMO_MAX_MARKS {
            return;
        }
        if self.slots.is_empty() {
            self.slots.resize_with(MEMO_SLOTS, Kept::default);
        }
        let kept = &mut self.slots[key.slot];
        if kept.credit > 0 {
            kept.credit -= 1;
            return;
        }
        kept.hash = key.hash;
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
        assert_eq!(memo.get(first), None, "never met again: replaced");
        assert_eq!(memo.get(key(1, 0, &rival)), Some(&[2][..]));
        assert_eq!(memo.slots.len(), MEMO_SLOTS, "bounded");
    }

    #[test]
    fn a_text_met_again_holds_its_slot_for_as_many_rivals_as_hits() {
        fn key(text: &str) -> MemoKey<'_> {
            MemoKey::new(1, 0, text).unwrap()
        }
        let mut memo = ScanMemo::default();
        let hot = key("/usr/bin/python3.11");
        let rivals: Vec<String> = (0..100_000)
            .map(|i| format!("python3 -m job{i}"))
            .filter(|t| key(t).slot == hot.slot)
            .take(usize::from(MAX_CREDIT) + 1)
            .collect();
        let held = |memo: &ScanMemo| memo.slots[hot.slot].text.clone();
        memo.keep(hot, &[7]);
        for _ in 0..10 {
            assert_eq!(memo.get(hot), Some(&[7][..]));
        }
        // Ten hits, but credit stops at MAX_CREDIT: that many rivals are
        // turned away, the next one takes the slot.
        for rival in &rivals[..usize::from(MAX_CREDIT)] {
            memo.keep(key(rival), &[]);
            assert_eq!(held(&memo), hot.text, "held against {rival}");
        }
        let last = &rivals[usize::from(MAX_CREDIT)];
        memo.keep(key(last), &[]);
        assert_eq!(&held(&memo), last, "credit spent: replaced");
        assert_eq!(memo.get(hot), None);
    }
}

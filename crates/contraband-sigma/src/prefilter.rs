//! A shared literal prefilter across rules: one case-insensitive
//! multi-pattern automaton over every rule's required literals. One pass
//! over an event's text marks which rules can possibly match; the rest are
//! skipped without evaluating their trees.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{dfa, nfa, Anchored, MatchKind};

/// Most prefilter literals built as a DFA (above, the automatic choice).
const DFA_MAX_PATTERNS: usize = 5_000;
/// Most bytes of a literal the automaton looks for: a longer one is looked
/// for by its first bytes (see [`literal_prefix`]).
const LITERAL_MAX_BYTES: usize = 16;
/// A literal that may be found in any field (keyword searches).
const ANY_FIELD: u32 = u32::MAX;
/// As [`Source::Field`]: a top-level field no literal is wanted in, so only
/// [`ANY_FIELD`] literals count in its text.
const NO_FIELD: u32 = u32::MAX - 1;
/// The memo's field for text from a container context (any of its keys:
/// the same literals count in each, see `counts`).
const CONTAINER_MEMO: u32 = u32::MAX - 2;
/// Where scanned text comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// The value of `fields[i]`.
    Field(u32),
    /// Somewhere under this top-level key of the event.
    Under(&'a str),
    /// Somewhere in the container context (`container.*`).
    Container,
}
use contraband_event::{
    visit_strings, Event, FieldPlaces, LogSource, Value, ValueRef, ViewPlace, CONTAINER_PREFIX,
};

use crate::compile::FieldLiteral;
use crate::field_memo::{FieldMemo, FieldReader};
use crate::gate::Gate;
use crate::scalar_text::with_text;
use crate::scan_memo::{MemoKey, ScanMemo, MEMO_MAX_MARKS};
use crate::RuleSet;

/// Built from a [`RuleSet`] with [`Prefilter::new`].
#[derive(Clone, Debug)]
pub struct Prefilter {
    /// Unique for the process's life: what [`ScanMemo`] keeps a scan's
    /// marks under (a clone, with the same literals, shares it).
    id: u64,
    ac: Option<Literals>,
    /// Pattern id → the slots (rules) needing it, each with the index in
    /// `fields` of the field it must be found in, or [`ANY_FIELD`].
    pattern_rules: Vec<Vec<(u32, u32)>>,
    /// Slots (rules) with no literal requirement, always evaluated: a
    /// bit per slot, as in [`PrefilterScratch`], so the rules to evaluate
    /// are the set bits of the two together.
    unfiltered: Vec<u64>,
    slots: usize,
    /// The fields whose values hold every field-keyed literal (visited as
    /// rules see them), sorted.
    fields: Box<[Box<str>]>,
    /// Per field, whether its name has no dot: then it is one lookup, no
    /// path walk (decided here, not per event).
    plain: Box<[bool]>,
    /// Some rule has keyword searches: every scalar of the event and of
    /// its container context is scanned instead of `fields`.
    scan_all: bool,
    /// Some literal can be found in the text of a number or a boolean
    /// (`"1011"`, `"true"`): otherwise those are not scanned.
    scalar_literals: bool,
    /// Per entry of `fields`, then for text in none of them: whether a
    /// literal that counts there is made of stamp bytes only (see
    /// [`is_stamp_text`]). Where none is, a time or a number written as
    /// text is not scanned: a literal is found only in a text holding its
    /// every byte. Event times are unique to their event, so each would
    /// be walked and then kept in the memo for nothing.
    stamp_literals: Box<[bool]>,
    /// The same for text found under a key or in a container context.
    stamp_literals_anywhere: bool,
}

/// Reusable per-thread scratch space for [`RuleSet::matches_selection`]
/// and [`RuleSet::matches_prefiltered`].
#[derive(Clone, Debug, Default)]
pub struct PrefilterScratch {
    bits: Vec<u64>,
    touched: Vec<usize>,
    /// Where the rules' fields are kept while one event is evaluated.
    fields: FieldMemo,
    /// What scanning a field's text marked, for the text's next time.
    scans: ScanMemo,
    /// One text's marks on their way to `scans`.
    found: Vec<u32>,
    /// Where the prefilters met lately find their fields among an event's
    /// (by [`Prefilter`] id), replaced in turn.
    places: Vec<(u64, FieldPlaces)>,
    next_places: usize,
    /// What the text of shared container contexts marked, by prefilter
    /// and view.
    containers: foldhash::HashMap<(u64, usize), ContainerMarks>,
}

/// The rule slots a shared container context's text marked.
#[derive(Clone, Debug)]
struct ContainerMarks {
    /// Held so that the view's address, the key, names it alone while
    /// kept; not the view itself, which may be large and long gone.
    _place: ViewPlace,
    marks: Box<[u32]>,
}

/// Container contexts whose marks a scratch keeps (then it starts over): a
/// stream's events come from a few hundred containers. As many as the
/// JSON decoder keeps shared.
const CONTAINERS_KEPT: usize = 1024;

/// Prefilters whose field places a scratch keeps: one per logsource the
/// stream mixes, mostly one.
const PLACES_KEPT: usize = 8;

/// The places of `pf`'s fields in `kept` (a scratch's), from its last
/// scan there; a prefilter met anew replaces the one at `next`.
fn places_of<'k>(
    kept: &'k mut Vec<(u64, FieldPlaces)>,
    next: &mut usize,
    pf: &Prefilter,
) -> &'k mut FieldPlaces {
    let i = match kept.iter().position(|(id, _)| *id == pf.id) {
        Some(i) => i,
        None if kept.len() < PLACES_KEPT => {
            kept.push((pf.id, FieldPlaces::new(&pf.fields)));
            kept.len() - 1
        }
        None => {
            let i = *next;
            *next = (i + 1) % PLACES_KEPT;
            kept[i] = (pf.id, FieldPlaces::new(&pf.fields));
            i
        }
    };
    &mut kept[i].1
}

/// Where prefilter ids come from.
static NEXT_PREFILTER_ID: AtomicU64 = AtomicU64::new(1);

impl Prefilter {
    /// Over every rule of `set`: the slot of rule `i` is `i`.
    pub fn new(set: &RuleSet) -> Prefilter {
        let all: Vec<u32> = (0..set.len() as u32).collect();
        Prefilter::over(set, &all)
    }

    /// Over the rules listed in `rules` only: the slot of `rules[j]` is `j`.
    fn over(set: &RuleSet, rules: &[u32]) -> Prefilter {
        let mut unfiltered = vec![0u64; rules.len().div_ceil(64)];
        let mut fields: Vec<&str> = Vec::new();
        let mut keywords = false;
        let mut wanted: Vec<(u32, Vec<FieldLiteral>)> = Vec::new();
        for (slot, &rule) in rules.iter().enumerate() {
            let detection = &set.rule(rule as usize).detection;
            match detection.required_literals_by_field() {
                Some(lits) => {
                    keywords |= detection.tested_fields(&mut fields);
                    wanted.push((slot as u32, lits));
                }
                None => unfiltered[slot / 64] |= 1 << (slot % 64),
            }
        }
        fields.sort_unstable();
        fields.dedup();
        // A literal counts only when found in the field it was taken from.
        let field_index = |f: Option<&str>| match f {
            Some(f) => fields.binary_search(&f).map_or(ANY_FIELD, |i| i as u32),
            None => ANY_FIELD,
        };
        let mut patterns: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut pattern_rules: Vec<Vec<(u32, u32)>> = Vec::new();
        for (slot, lits) in &wanted {
            for (field, l) in lits {
                let l = literal_prefix(l);
                let id = *index.entry(l.to_string()).or_insert_with(|| {
                    patterns.push(l.to_string());
                    pattern_rules.push(Vec::new());
                    patterns.len() - 1
                });
                let entry = (*slot, field_index(*field));
                if !pattern_rules[id].contains(&entry) {
                    pattern_rules[id].push(entry);
                }
            }
        }
        let plain = fields.iter().map(|f| !f.contains('.')).collect();
        let mut stamp_literals = vec![false; fields.len() + 1].into_boxed_slice();
        for (pattern, wanting) in patterns.iter().zip(&pattern_rules) {
            if !is_stamp_text(pattern) {
                continue;
            }
            for &(_, wants) in wanting {
                match stamp_literals.get_mut(wants as usize) {
                    Some(flag) => *flag = true,
                    None => stamp_literals.fill(true),
                }
            }
        }
        let stamp_literals_anywhere = stamp_literals.contains(&true);
        let fields = fields.into_iter().map(Box::from).collect();
        let scalar_literals = patterns.iter().any(|p| fits_in_number_or_bool(p));
        let ac = Literals::build(&patterns);
        if ac.is_none() {
            for slot in 0..rules.len() {
                unfiltered[slot / 64] |= 1 << (slot % 64);
            }
        }
        Prefilter {
            id: NEXT_PREFILTER_ID.fetch_add(1, Ordering::Relaxed),
            ac,
            pattern_rules,
            unfiltered,
            slots: rules.len(),
            fields,
            plain,
            scan_all: keywords,
            scalar_literals,
            stamp_literals,
            stamp_literals_anywhere,
        }
    }

    /// Mark the rules whose literals occur in `event`.
    fn scan(&self, event: &Event, scratch: &mut PrefilterScratch) {
        // Only the words the last scan set are dirty, whichever prefilter
        // it was: one scratch serves the selections of every logsource.
        for &w in &scratch.touched {
            scratch.bits[w] = 0;
        }
        scratch.touched.clear();
        let words = self.slots.div_ceil(64);
        if scratch.bits.len() < words {
            scratch.bits.resize(words, 0);
        }
        let Some(ac) = &self.ac else { return };
        let PrefilterScratch {
            bits,
            touched,
            scans,
            found,
            places,
            next_places,
            containers,
            ..
        } = scratch;
        let mut mark = |r: u32| {
            let w = r as usize / 64;
            if bits[w] == 0 {
                touched.push(w);
            }
            bits[w] |= 1 << (r % 64);
        };
        let mut scan_text = |from: Source, v: ValueRef<'_>| {
            if !self.may_hold_literals(v) {
                return ControlFlow::Continue(());
            }
            let _ = with_text(v, |text| {
                if is_stamp_text(text) && !self.may_hold_stamp_literals(from) {
                    return;
                }
                // A text from one field, or from anywhere in a container
                // context, marks the same rules every time: a text met
                // before is looked up, not scanned.
                let key = match from {
                    Source::Field(i) => MemoKey::new(self.id, i, text),
                    Source::Container => MemoKey::new(self.id, CONTAINER_MEMO, text),
                    Source::Under(_) => None,
                };
                let Some(key) = key else {
                    self.marks_in(ac, text, from, &mut mark);
                    return;
                };
                if let Some(kept) = scans.get(key) {
                    kept.iter().for_each(|&r| mark(r));
                    return;
                }
                found.clear();
                self.marks_in(ac, text, from, |r| found.push(r));
                found.iter().for_each(|&r| mark(r));
                scans.keep(key, found);
            });
            ControlFlow::Continue(())
        };
        let places = places_of(places, next_places, self);
        if self.scan_all {
            // Keyword searches read every scalar. A top-level scalar is
            // the value of its own field only, found by its place in the
            // event's shape; other text (and every text of an event
            // without a shape, whose names would each be looked up) is
            // tagged with the top-level key it sits under, which is all a
            // field-keyed literal needs (see `counts`).
            let shaped = event.fields.shape_id().is_some();
            for (at, (key, v)) in event.fields.refs().enumerate() {
                if shaped && is_scalar(v) {
                    let field = places
                        .name_at(event, at, key)
                        .map_or(NO_FIELD, |i| i as u32);
                    let _ = scan_text(Source::Field(field), v);
                } else {
                    let _ = visit_strings(v, &mut |s| scan_text(Source::Under(key), s));
                }
            }
            if let Some(c) = event.container_view() {
                match event.shared_view() {
                    // Events of one container share its context: what its
                    // text marks is kept with the view, not found per event.
                    Some(view) => {
                        let key = (self.id, view.addr());
                        if let Some(kept) = containers.get(&key) {
                            kept.marks.iter().for_each(|&r| mark(r));
                        } else {
                            found.clear();
                            let _ = visit_strings(c.into(), &mut |v| {
                                if self.may_hold_literals(v) {
                                    let _ = with_text(v, |text| {
                                        self.marks_in(ac, text, Source::Container, |r| {
                                            found.push(r)
                                        })
                                    });
                                }
                                ControlFlow::Continue(())
                            });
                            found.sort_unstable();
                            found.dedup();
                            found.iter().for_each(|&r| mark(r));
                            // Bounded: as many contexts, each with as many
                            // marks as a kept text (more is rare, and what
                            // a crafted context would want).
                            if containers.len() >= CONTAINERS_KEPT {
                                containers.clear();
                            }
                            if found.len() <= MEMO_MAX_MARKS {
                                let kept = ContainerMarks {
                                    _place: view.place(),
                                    marks: found.as_slice().into(),
                                };
                                containers.insert(key, kept);
                            }
                        }
                    }
                    None => {
                        let _ = visit_strings(c.into(), &mut |s| scan_text(Source::Container, s));
                    }
                }
            }
        } else {
            // Only the fields some filtered rule tests, reached exactly as
            // evaluation reaches them (nested paths, `container.*`).
            for (i, (field, &plain)) in self.fields.iter().zip(&self.plain).enumerate() {
                let from = Source::Field(i as u32);
                if plain {
                    // A plain name reaches one value, every scalar under
                    // which is scanned: one lookup (by place when the
                    // event has a shape), no path walk.
                    match places.field(event, i) {
                        // Most values are one plain string: no walk.
                        Some(v @ ValueRef::Text(_)) => {
                            let _ = scan_text(from, v);
                        }
                        Some(v) => {
                            let _ = visit_strings(v, &mut |s| scan_text(from, s));
                        }
                        None => {}
                    }
                    continue;
                }
                let _ = event.visit(field, &mut |v| {
                    visit_strings(v, &mut |s| scan_text(from, s))
                });
            }
        }
    }

    /// Whether a literal could be found in scalar `v`'s text: not when it
    /// is a number or a boolean and no literal fits in one.
    #[inline(always)]
    fn may_hold_literals(&self, v: ValueRef<'_>) -> bool {
        self.scalar_literals || !is_number_or_bool(v)
    }

    /// Whether a literal made of stamp bytes only counts in text from
    /// `from` (see `stamp_literals`).
    #[inline]
    fn may_hold_stamp_literals(&self, from: Source) -> bool {
        match from {
            // `NO_FIELD` is past the fields: the flag for text in none.
            Source::Field(i) => self.stamp_literals[(i as usize).min(self.fields.len())],
            Source::Under(_) | Source::Container => self.stamp_literals_anywhere,
        }
    }

    /// Calls `mark` with each rule slot a literal found in `text` (from
    /// `from`) counts for.
    #[inline]
    fn marks_in(&self, ac: &Literals, text: &str, from: Source, mut mark: impl FnMut(u32)) {
        ac.each_match(text.as_bytes(), |pattern| {
            for &(r, wants) in &self.pattern_rules[pattern] {
                if self.counts(wants, from) {
                    mark(r);
                }
            }
        });
    }

    /// Does a literal wanted in field `wants` (an index in `fields`, or
    /// [`ANY_FIELD`]) count when found in text from `from`?
    #[inline]
    fn counts(&self, wants: u32, from: Source) -> bool {
        if wants == ANY_FIELD {
            return true;
        }
        match from {
            Source::Field(i) => i == wants,
            // Field `a.b` resolves through a top-level key `a` (nested) or
            // `a.b` (flat, dotted): text under any other key cannot be its.
            Source::Under(key) => {
                let f = self.fields[wants as usize].as_bytes();
                let k = key.as_bytes();
                f.starts_with(k) && (f.len() == k.len() || f[k.len()] == b'.')
            }
            Source::Container => self.fields[wants as usize].starts_with(CONTAINER_PREFIX),
        }
    }

    #[inline]
    fn may_match(&self, slot: u32, scratch: &PrefilterScratch) -> bool {
        let (word, bit) = (slot as usize / 64, 1 << (slot % 64));
        (self.unfiltered[word] | scratch.bits[word]) & bit != 0
    }

    /// Calls `f` on each slot that may match after [`Prefilter::scan`], in
    /// ascending order: a walk over set bits, so a rule ruled out costs
    /// nothing, not even a test.
    #[inline]
    fn for_each_candidate(&self, bits: &[u64], f: impl FnMut(usize)) {
        let words = self
            .unfiltered
            .iter()
            .zip(bits)
            .map(|(&always, &found)| always | found);
        for_each_set_bit(words, f);
    }
}

/// What the automaton looks for to find `literal`: its first
/// [`LITERAL_MAX_BYTES`] (to a character's end). Sound, since the prefix
/// occurs wherever the literal does. A DFA has a state per byte of its
/// literals (less shared prefixes), each a row of ~500 bytes: the whole
/// SigmaHQ corpus's ~1,600 linux literals, some a hundred bytes long, made
/// 10.9 MB of rows, and their first 16 bytes make 5.2 MB while ruling out
/// as many rules.
fn literal_prefix(literal: &str) -> &str {
    if literal.len() <= LITERAL_MAX_BYTES {
        return literal;
    }
    let end = (0..=LITERAL_MAX_BYTES)
        .rev()
        .find(|&i| literal.is_char_boundary(i))
        .unwrap_or(0);
    &literal[..end]
}

/// Can `literal` (matched ignoring ASCII case) occur in a number's text
/// as [`with_text`] writes it, or in `true` or `false`?
fn fits_in_number_or_bool(literal: &str) -> bool {
    let lower = literal.to_ascii_lowercase();
    lower
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.e".contains(&b))
        || "true".contains(&lower)
        || "false".contains(&lower)
}

/// Is `text` made of the bytes times and numbers are written with only
/// (`2026-11-20T00:00:03.862Z`, `+01:00`, `2040029`, `1.5`)? Most texts
/// are told apart at their first byte.
#[inline]
fn is_stamp_text(text: &str) -> bool {
    text.bytes().all(|b| {
        b.is_ascii_digit()
            || matches!(
                b,
                b'+' | b'-' | b'.' | b':' | b'/' | b' ' | b'T' | b't' | b'Z' | b'z'
            )
    })
}

/// A number or a boolean, held as JSON.
#[inline]
fn is_number_or_bool(v: ValueRef<'_>) -> bool {
    matches!(v, ValueRef::Json(Value::Number(_) | Value::Bool(_)))
}

/// Text, a number, a boolean or null: not an object or an array.
#[inline]
fn is_scalar(v: ValueRef<'_>) -> bool {
    !matches!(
        v,
        ValueRef::Tree(_) | ValueRef::Json(Value::Object(_) | Value::Array(_))
    )
}

/// Calls `f` on the position of each set bit of `words`, ascending.
#[inline]
pub(crate) fn for_each_set_bit(words: impl Iterator<Item = u64>, mut f: impl FnMut(usize)) {
    for (word, mut bits) in words.enumerate() {
        while bits != 0 {
            f(word * 64 + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

/// The prefilter's literals as one case-insensitive automaton.
#[derive(Clone, Debug)]
enum Literals {
    /// Every event's tested text goes through this automaton, so it is a
    /// DFA (one table lookup per byte) while that stays small.
    Dfa(dfa::DFA),
    /// Past [`DFA_MAX_PATTERNS`] a DFA's tables grow too large to build
    /// quickly; the contiguous NFA is the compact next best.
    Nfa(nfa::contiguous::NFA),
}

impl Literals {
    /// `None` when aho-corasick refuses the patterns (too many states):
    /// then every rule is evaluated. No pattern may be longer than
    /// [`LITERAL_MAX_BYTES`] (see [`literal_prefix`]): a long text's walk
    /// relies on it.
    fn build(patterns: &[String]) -> Option<Literals> {
        debug_assert!(patterns.iter().all(|p| p.len() <= LITERAL_MAX_BYTES));
        // No aho-corasick prefilter: it only pays off when matches are
        // rare, and field values are short and full of the literals'
        // common letters.
        if patterns.len() <= DFA_MAX_PATTERNS {
            dfa::DFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(patterns)
                .ok()
                .map(Literals::Dfa)
        } else {
            nfa::contiguous::NFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(patterns)
                .ok()
                .map(Literals::Nfa)
        }
    }

    /// Calls `f` with the pattern id of every occurrence in `text`,
    /// overlapping ones included.
    #[inline]
    fn each_match(&self, text: &[u8], f: impl FnMut(usize)) {
        match self {
            Literals::Dfa(a) => walk(a, text, f),
            Literals::Nfa(a) => walk(a, text, f),
        }
    }
}

/// Texts at least this long are walked as two overlapping halves at once.
/// Each step of a walk waits for the last (the next state is read from the
/// table at the current one), so one walk runs at the table's load latency;
/// two independent ones overlap their waits.
const SPLIT_WALK_FROM: usize = 48;
/// How far the first half's walk runs into the second: a literal that
/// starts in the first half ends within this many bytes past it.
const WALK_OVERLAP: usize = LITERAL_MAX_BYTES - 1;

/// A plain walk of `aut` over `text`, reporting each match state's
/// patterns, a long text as two halves (see [`SPLIT_WALK_FROM`]): the
/// same occurrences, each once, in another order. aho-corasick's
/// overlapping iterator does what one walk does but keeps a resumable
/// state and builds a `Match` per hit, which on short field values costs
/// more than the walk.
#[inline(always)]
fn walk<A: Automaton>(aut: &A, text: &[u8], mut f: impl FnMut(usize)) {
    let Ok(start) = aut.start_state(Anchored::No) else {
        return;
    };
    let mut report = |sid| {
        for i in 0..aut.match_len(sid) {
            f(aut.match_pattern(sid, i).as_usize());
        }
    };
    if aut.is_match(start) {
        report(start);
    }
    if text.len() < SPLIT_WALK_FROM {
        walk_on(aut, start, text, &mut report);
        return;
    }
    // Occurrences starting before `mid` end by `mid + WALK_OVERLAP`, where
    // the first walk stops; the second, from `mid`, reports only those
    // ending past it. Halves of equal length, to within a byte.
    let mid = (text.len() - WALK_OVERLAP) / 2;
    let (first, second) = (&text[..mid + WALK_OVERLAP], &text[mid..]);
    let (mut a, mut b) = (start, start);
    for (i, (&x, &y)) in first.iter().zip(second).enumerate() {
        a = aut.next_state(Anchored::No, a, x);
        b = aut.next_state(Anchored::No, b, y);
        // A dead state (never reached by an unanchored walk for every
        // occurrence) is no match and stays dead: nothing to stop.
        if aut.is_special(a) && aut.is_match(a) {
            report(a);
        }
        if aut.is_special(b) && i >= WALK_OVERLAP && aut.is_match(b) {
            report(b);
        }
    }
    walk_on(aut, b, &second[first.len()..], &mut report);
}

/// Walks `aut` on from state `sid` over `text`, reporting match states.
#[inline(always)]
fn walk_on<A: Automaton>(aut: &A, mut sid: StateID, text: &[u8], report: &mut impl FnMut(StateID)) {
    for &byte in text {
        sid = aut.next_state(Anchored::No, sid, byte);
        if aut.is_special(sid) {
            if aut.is_dead(sid) {
                return;
            }
            if aut.is_match(sid) {
                report(sid);
            }
        }
    }
}

/// The rules whose logsource admits one kind of event, with a prefilter
/// over just those rules when they are many: built once per logsource by
/// [`RuleSet::select`], so rules that cannot apply to an event cost nothing,
/// not even a literal in the automaton or a field in its scan.
#[derive(Clone, Debug)]
pub struct Selection {
    rules: Box<[u32]>,
    prefilter: Option<Prefilter>,
    /// Without a prefilter: the rules a field's value rules out.
    gate: Option<Gate>,
}

impl Selection {
    /// The selected rules' indices, ascending.
    pub fn rules(&self) -> &[u32] {
        &self.rules
    }

    /// True when a prefilter screens the rules.
    pub fn is_prefiltered(&self) -> bool {
        self.prefilter.is_some()
    }
}

impl RuleSet {
    /// Like [`RuleSet::matches_into`], skipping rules the prefilter rules
    /// out. Same results; `pf` must have been built from this set.
    pub fn matches_prefiltered(
        &self,
        event: &Event,
        pf: &Prefilter,
        scratch: &mut PrefilterScratch,
        out: &mut Vec<u32>,
    ) {
        pf.scan(event, scratch);
        let start = out.len();
        self.for_each_candidate_group(&event.logsource, |list| {
            for &i in list {
                if pf.may_match(i, scratch) && self.rule_matches(i as usize, event) {
                    out.push(i);
                }
            }
        });
        out[start..].sort_unstable();
    }

    /// The rules that can apply to events of logsource `ls`, screened by a
    /// prefilter of their own when there are at least `prefilter_from`.
    pub fn select(&self, ls: &LogSource, prefilter_from: usize) -> Selection {
        let rules = self.candidates(ls);
        let prefilter = (rules.len() >= prefilter_from).then(|| Prefilter::over(self, &rules));
        let gate = match prefilter {
            Some(_) => None,
            None => Gate::over(self, &rules),
        };
        Selection {
            rules: rules.into(),
            prefilter,
            gate,
        }
    }

    /// Append the rules of `sel` that match `event` to `out`, ascending.
    /// `sel` must have been selected from this set for the event's logsource.
    pub fn matches_selection(
        &self,
        sel: &Selection,
        event: &Event,
        scratch: &mut PrefilterScratch,
        out: &mut Vec<u32>,
    ) {
        if let Some(pf) = &sel.prefilter {
            pf.scan(event, scratch);
        }
        let mut reader = self.reader(event, &mut scratch.fields);
        let mut judge = |reader: &mut FieldReader<'_, '_>, slot: usize| {
            let i = sel.rules[slot];
            if self.rule_matches_in(i as usize, reader) {
                out.push(i);
            }
        };
        match (&sel.prefilter, &sel.gate) {
            (Some(pf), _) => pf.for_each_candidate(&scratch.bits, |slot| judge(&mut reader, slot)),
            (None, Some(gate)) => {
                gate.admit(&mut reader, &mut scratch.bits);
                for_each_set_bit(scratch.bits.iter().copied(), |slot| {
                    judge(&mut reader, slot)
                });
            }
            (None, None) => (0..sel.rules.len()).for_each(|slot| judge(&mut reader, slot)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Loader};
    use contraband_event::Timestamp;

    fn rules() -> RuleSet {
        let mut loader = Loader::new(LoadOptions::default());
        loader.add_source(
            "netcat.yml",
            "title: nc\nlogsource: {product: linux, category: process_creation}\n\
             detection: {sel: {Image|endswith: /nc}, opts: {CommandLine|contains: listen}, \
             condition: sel and opts}\n",
        );
        loader.add_source(
            "keyword.yml",
            "title: kw\nlogsource: {product: linux, category: process_creation}\n\
             detection: {kw: [mimikatz], condition: kw}\n",
        );
        loader.finish().ruleset
    }

    fn event_logsource() -> LogSource {
        LogSource::new(Some("linux"), Some("process_creation"), None)
    }

    fn event(fields: serde_json::Value) -> Event {
        Event::new(
            event_logsource(),
            Timestamp(0),
            fields.as_object().unwrap().clone(),
        )
    }

    /// The slots the prefilter lets through for `fields`.
    fn passed(pf: &Prefilter, fields: serde_json::Value) -> Vec<u32> {
        let mut scratch = PrefilterScratch::default();
        pf.scan(&event(fields), &mut scratch);
        (0..pf.slots as u32)
            .filter(|&s| pf.may_match(s, &scratch))
            .collect()
    }

    #[test]
    fn a_literal_counts_only_in_the_field_it_was_taken_from() {
        let set = rules();
        // Only the field rule: its literal is the longer one, `listen`,
        // taken from CommandLine; Image is scanned too.
        let pf = Prefilter::over(&set, &[0]);
        let there = serde_json::json!({"Image": "/bin/nc", "CommandLine": "nc --listen"});
        assert_eq!(passed(&pf, there), [0]);
        let elsewhere = serde_json::json!({"Image": "/opt/listen", "CommandLine": "nc -v"});
        assert!(passed(&pf, elsewhere.clone()).is_empty());
        // With a keyword rule every scalar is scanned, tagged with its
        // top-level key: the keyword counts anywhere, the field's literal
        // still only under its field.
        let pf = Prefilter::over(&set, &[0, 1]);
        assert!(passed(&pf, elsewhere).is_empty());
        let there = serde_json::json!({"Image": "/bin/nc", "CommandLine": "nc --listen"});
        assert_eq!(passed(&pf, there), [0]);
        assert_eq!(passed(&pf, serde_json::json!({"x": "MIMIKATZ"})), [1]);
    }

    #[test]
    fn texts_met_before_mark_what_a_fresh_scan_marks() {
        let set = rules();
        let (field_only, with_keywords) =
            (Prefilter::over(&set, &[0]), Prefilter::over(&set, &[0, 1]));
        // Another rule set's prefilter: its field 0 is CommandLine too,
        // but the text it marks is another.
        let other_set = one_rule("{sel: {CommandLine|contains: mimikatz}, condition: sel}");
        let other = Prefilter::over(&other_set, &[0]);
        let events = [
            // A text first met where its literal does not count, then
            // where it does: the memo must keep the two apart.
            serde_json::json!({"Image": "nc --listen", "CommandLine": "nc -v"}),
            serde_json::json!({"Image": "/bin/nc", "CommandLine": "nc --listen"}),
            // The same text in two fields: it counts in one only.
            serde_json::json!({"Image": "nc --listen", "CommandLine": "nc --listen"}),
            serde_json::json!({"Image": "/bin/nc", "CommandLine": "nc -v"}),
            serde_json::json!({"Image": "/bin/nc", "CommandLine": ["nc --listen", "x"]}),
            serde_json::json!({"Image": "/bin/nc", "CommandLine": "mimikatz"}),
        ];
        // One scratch for everything, as a worker keeps it: the second
        // round finds every text kept, under both prefilters in turn.
        let mut shared = PrefilterScratch::default();
        for round in 0..2 {
            for fields in &events {
                for pf in [&field_only, &with_keywords, &other] {
                    pf.scan(&event(fields.clone()), &mut shared);
                    let got: Vec<u32> = (0..pf.slots as u32)
                        .filter(|&s| pf.may_match(s, &shared))
                        .collect();
                    assert_eq!(got, passed(pf, fields.clone()), "round {round}: {fields}");
                }
            }
        }
        assert_eq!(passed(&field_only, events[1].clone()), [0]);
        assert_eq!(passed(&other, events[5].clone()), [0]);
    }

    /// Rules over every kind of text a keyword scan meets: keywords, a
    /// field, the container context, a literal longer than the automaton
    /// keeps; with `number` a keyword that only a number's text holds.
    /// Without it the rules are numbered the other way round, so the two
    /// sets' marks differ.
    fn keyword_rules(number: bool) -> RuleSet {
        let mut loader = Loader::new(LoadOptions::default());
        let keywords = if number {
            "[mimikatz, '31337']"
        } else {
            "[mimikatz]"
        };
        let mut rules = [
            ("kw", format!("{{kw: {keywords}, condition: kw}}")),
            (
                "field",
                "{sel: {CommandLine|contains: listen}, condition: sel}".into(),
            ),
            (
                "registry",
                "{sel: {container.image|startswith: 'registry.evil.example/'}, condition: sel}"
                    .into(),
            ),
            (
                "long",
                "{sel: {CommandLine|contains: 'a-rather-long-literal-past-sixteen-bytes'}, \
                 condition: sel}"
                    .into(),
            ),
        ];
        if !number {
            rules.reverse();
        }
        for (name, detection) in rules {
            loader.add_source(
                &format!("{name}.yml"),
                &format!(
                    "title: {name}\nlogsource: {{product: linux, category: process_creation}}\n\
                     detection: {detection}\n"
                ),
            );
        }
        let report = loader.finish();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        report.ruleset
    }

    /// A stream as the JSON decoder reads it: records of a few shapes,
    /// containers met again (their contexts shared), numbers and booleans.
    fn keyword_stream() -> Vec<serde_json::Value> {
        let evil = serde_json::json!({"id": "c1", "image": "registry.evil.example/miner:1"});
        let good = serde_json::json!({"id": "c2", "image": "registry.example.com/api:2"});
        let mut records = Vec::new();
        for (i, (image, cmd, pid, container)) in [
            ("/bin/nc", "nc --listen 4444", 10, Some(&evil)),
            ("/bin/ls", "ls -l", 31337, Some(&good)),
            ("/bin/ls", "ls mimikatz", 12, Some(&evil)),
            (
                "/bin/nc",
                "nc -v a-rather-long-literal-past-sixteen-bytes",
                13,
                None,
            ),
            (
                "/bin/nc",
                "nc -v a-rather-long-literal-past-sixteen",
                14,
                Some(&good),
            ),
            ("/usr/bin/listen", "listen", 31338, None),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = serde_json::json!({
                "Image": image, "CommandLine": cmd, "ProcessId": pid, "Interactive": i % 2 == 0,
            });
            if let Some(c) = container {
                r["container"] = c.clone();
            }
            records.push(r);
        }
        records
    }

    #[test]
    fn a_keyword_scan_of_a_decoded_stream_changes_no_result() {
        let records = keyword_stream();
        let mut events = crate::test_support::decoded_stream(&records);
        for e in &mut events {
            e.logsource = event_logsource();
        }
        assert!(events.iter().any(|e| e.shared_view().is_some()));
        let sets = [keyword_rules(true), keyword_rules(false)];
        let prefilters = sets.each_ref().map(Prefilter::new);
        for (pf, number) in prefilters.iter().zip([true, false]) {
            assert!(pf.scan_all);
            assert_eq!(pf.scalar_literals, number);
        }
        // One scratch for the whole stream, twice (the second time every
        // text and container context is met before), serving both
        // prefilters in turn: what one kept must not serve the other.
        let mut scratch = PrefilterScratch::default();
        let mut fired = [Vec::new(), Vec::new()];
        for round in 0..2 {
            for (record, event) in records.iter().zip(&events) {
                for ((set, pf), fired) in sets.iter().zip(&prefilters).zip(&mut fired) {
                    let mut filtered = Vec::new();
                    set.matches_prefiltered(event, pf, &mut scratch, &mut filtered);
                    assert_eq!(filtered, set.matches(event), "round {round}: {record}");
                    // The same event read plainly (no shape, its container
                    // a field like any other) passes the same rules.
                    pf.scan(event, &mut scratch);
                    let got: Vec<u32> = (0..pf.slots as u32)
                        .filter(|&s| pf.may_match(s, &scratch))
                        .collect();
                    assert_eq!(got, passed(pf, record.clone()), "round {round}: {record}");
                    if round == 0 {
                        let mut titles: Vec<_> = filtered
                            .iter()
                            .map(|&i| set.rule(i as usize).label().to_string())
                            .collect();
                        titles.sort();
                        fired.push(titles.join(" "));
                    }
                }
            }
        }
        let expected = |pid: &str| {
            ["field registry", pid, "kw registry", "long", "", "field"].map(String::from)
        };
        assert_eq!(fired[0], expected("kw"), "with the number keyword");
        assert_eq!(fired[1], expected(""), "without");
    }

    #[test]
    fn kept_container_contexts_are_bounded() {
        let records: Vec<_> = (0..CONTAINERS_KEPT + 100)
            .map(|i| {
                let image = if i % 2 == 0 { "registry.evil.example/m" } else { "other/m" };
                serde_json::json!({"Image": "x", "container": {"id": format!("c{i:04}"), "image": image}})
            })
            .collect();
        let set = keyword_rules(false);
        let pf = Prefilter::new(&set);
        let mut scratch = PrefilterScratch::default();
        let mut fired = 0;
        for mut event in crate::test_support::decoded_stream(&records) {
            assert!(event.shared_view().is_some());
            event.logsource = event_logsource();
            let mut filtered = Vec::new();
            set.matches_prefiltered(&event, &pf, &mut scratch, &mut filtered);
            assert_eq!(filtered, set.matches(&event));
            fired += filtered.len();
            assert!(scratch.containers.len() <= CONTAINERS_KEPT);
        }
        assert_eq!(fired, records.len() / 2);
    }

    mod walks {
        use super::*;
        use proptest::prelude::*;

        /// Every occurrence of `patterns` in `text`, as aho-corasick's own
        /// overlapping search reports them: (pattern, end), sorted.
        fn occurrences(patterns: &[String], text: &[u8]) -> Vec<(usize, usize)> {
            let ac = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(patterns)
                .unwrap();
            let mut all: Vec<(usize, usize)> = ac
                .find_overlapping_iter(text)
                .map(|m| (m.pattern().as_usize(), m.end()))
                .collect();
            all.sort_unstable();
            all
        }

        proptest! {
            /// Walked whole or as two halves, a text reports each
            /// occurrence once: for each pattern, as many times as it
            /// occurs (the walk does not say where).
            #[test]
            fn a_walk_reports_each_occurrence_once(
                patterns in prop::collection::vec("[ab]{1,16}", 1..12),
                text in prop::collection::vec(prop::sample::select(b"abAB-".to_vec()), 0..140),
            ) {
                let mut patterns = patterns;
                patterns.sort();
                patterns.dedup();
                let mut want: Vec<usize> = occurrences(&patterns, &text).into_iter().map(|(p, _)| p).collect();
                want.sort_unstable();
                for literals in [
                    Literals::build(&patterns).unwrap(),
                    Literals::Nfa(
                        nfa::contiguous::NFA::builder()
                            .ascii_case_insensitive(true)
                            .build(&patterns)
                            .unwrap(),
                    ),
                ] {
                    let mut got = Vec::new();
                    literals.each_match(&text, |p| got.push(p));
                    got.sort_unstable();
                    prop_assert_eq!(&got, &want);
                }
            }
        }

        #[test]
        fn occurrences_at_the_halves_seam_are_found_once() {
            // Each literal placed so that it starts just before, at and
            // just after where the second half's walk begins, and ends
            // where the first half's stops.
            let literal = "0123456789abcdef";
            for len in SPLIT_WALK_FROM..SPLIT_WALK_FROM + 40 {
                for at in 0..=len - literal.len() {
                    let mut text = vec![b'-'; len];
                    text[at..at + literal.len()].copy_from_slice(literal.as_bytes());
                    let patterns = [literal.to_string(), "f".to_string()];
                    let literals = Literals::build(&patterns).unwrap();
                    let mut got = Vec::new();
                    literals.each_match(&text, |p| got.push(p));
                    got.sort_unstable();
                    assert_eq!(got, [0, 1], "length {len}, literal at {at}");
                }
            }
        }
    }

    mod streams {
        use super::*;
        use proptest::prelude::*;
        use serde_json::json;

        /// Records of one stream with the keyword rules' words in their
        /// values: names from a small pool in any order, numbers, booleans,
        /// lists, and container contexts from a few; each record twice in
        /// a row (the decoder keeps the shape of a record met again).
        fn records() -> impl Strategy<Value = Vec<serde_json::Value>> {
            let text = prop_oneof![
                Just("nc --listen"),
                Just("mimikatz"),
                Just("ls"),
                Just("31337"),
                Just("2026-11-20T00:00:03.862Z"),
                Just("x a-rather-long-literal-past-sixteen-bytes"),
                Just("x a-rather-long-literal-past-sixteen"),
            ];
            let value = prop_oneof![
                text.prop_map(|t| json!(t)),
                Just(json!(31337)),
                Just(json!(12)),
                Just(json!(true)),
                Just(json!(null)),
                Just(json!(["listen", 31337])),
            ];
            let name = prop_oneof![
                Just("CommandLine"),
                Just("Image"),
                Just("Note"),
                Just("Pid")
            ];
            let container = prop_oneof![
                Just(None),
                Just(Some(
                    json!({"id": "c1", "image": "registry.evil.example/m:1"})
                )),
                Just(Some(
                    json!({"id": "c2", "image": "other/m:1", "name": "mimikatz"})
                )),
            ];
            let record = (prop::collection::vec((name, value), 0..5), container).prop_map(
                |(pairs, container)| {
                    let container = container.map(|c| ("container", c));
                    crate::test_support::object(pairs.into_iter().chain(container))
                },
            );
            prop::collection::vec(record, 1..8)
                .prop_map(|rs| rs.into_iter().flat_map(|r| [r.clone(), r]).collect())
        }

        proptest! {
            /// Two prefilters numbering their rules differently take turns
            /// with one scratch over a decoded stream: what either passes
            /// is what evaluating every rule finds.
            #[test]
            fn a_keyword_scan_of_any_stream_changes_no_result(records in records()) {
                let mut events = crate::test_support::decoded_stream(&records);
                for e in &mut events {
                    e.logsource = event_logsource();
                }
                let sets = [keyword_rules(true), keyword_rules(false)];
                let prefilters = sets.each_ref().map(Prefilter::new);
                let mut scratch = PrefilterScratch::default();
                for event in &events {
                    for (set, pf) in sets.iter().zip(&prefilters) {
                        let mut filtered = Vec::new();
                        set.matches_prefiltered(event, pf, &mut scratch, &mut filtered);
                        prop_assert_eq!(filtered, set.matches(event));
                    }
                }
            }
        }
    }

    #[test]
    fn a_container_text_is_kept_apart_from_the_same_text_elsewhere() {
        let set = keyword_rules(false);
        let pf = Prefilter::new(&set);
        let image = "registry.evil.example/miner:1";
        // Not the container's: no rule wants this field.
        let plain = event(serde_json::json!({"Note": image}));
        // The container's own context (not shared).
        let mut own = event(serde_json::json!({"Note": "x"}));
        own.set_container(contraband_event::ContainerContext {
            image: Some(image.into()),
            ..Default::default()
        });
        let mut scratch = PrefilterScratch::default();
        for event in [&plain, &own, &plain, &own] {
            let mut filtered = Vec::new();
            set.matches_prefiltered(event, &pf, &mut scratch, &mut filtered);
            assert_eq!(filtered, set.matches(event));
        }
        let fired = set.matches(&own);
        assert_eq!(fired.len(), 1);
        assert_eq!(set.rule(fired[0] as usize).label(), "registry");
        assert!(set.matches(&plain).is_empty());
    }

    #[test]
    fn a_long_literal_is_looked_for_by_its_first_bytes() {
        assert_eq!(literal_prefix("short"), "short");
        assert_eq!(literal_prefix("0123456789abcdefXYZ"), "0123456789abcdef");
        // Never inside a character: 1 + 8 x 2 bytes ends at byte 15.
        assert_eq!(literal_prefix("aéééééééé"), "aééééééé");
        assert_eq!(literal_prefix("éééééééééé"), "éééééééé");
    }

    #[test]
    fn candidates_are_the_set_bits_of_both_words_in_order() {
        let set = rules();
        let mut pf = Prefilter::over(&set, &[0]);
        pf.slots = 130;
        pf.unfiltered = vec![1 << 3, 0, 1 << 1];
        let scratch = PrefilterScratch {
            bits: vec![1 << 3 | 1 << 63, 1 << 0, 0, 1 << 5],
            ..PrefilterScratch::default()
        };
        let mut seen = Vec::new();
        pf.for_each_candidate(&scratch.bits, |slot| seen.push(slot));
        // Slot 3 once though set in both; the scratch's fourth word
        // belongs to a larger prefilter and is not this one's.
        assert_eq!(seen, [3, 63, 64, 129]);
        assert!(seen.iter().all(|&s| pf.may_match(s as u32, &scratch)));
        assert!(!pf.may_match(4, &scratch));
    }

    /// A set of one process-creation rule with `detection`.
    fn one_rule(detection: &str) -> RuleSet {
        let mut loader = Loader::new(LoadOptions::default());
        loader.add_source(
            "one.yml",
            &format!(
                "title: one\nlogsource: {{product: linux, category: process_creation}}\n\
                 detection: {detection}\n"
            ),
        );
        loader.finish().ruleset
    }

    #[test]
    fn times_and_numbers_are_scanned_only_where_a_literal_of_their_bytes_counts() {
        // `2026-11` is made of the bytes times are written with and counts
        // in `UtcTime` only; the keyword rule makes every scalar scanned.
        let set = one_rule(
            "{sel: {UtcTime|startswith: '2026-11'}, kw: [mimikatz], condition: sel or kw}",
        );
        let pf = Prefilter::new(&set);
        assert!(pf.scan_all);
        let utc = pf.fields.iter().position(|f| &**f == "UtcTime").unwrap();
        let mut flags = vec![false; pf.fields.len() + 1];
        flags[utc] = true;
        assert_eq!(*pf.stamp_literals, flags[..]);
        assert!(pf.stamp_literals_anywhere);
        let records = [
            serde_json::json!({"UtcTime": "2026-11-20T00:00:03.862Z", "Note": "2026-11-20"}),
            serde_json::json!({"UtcTime": "2025-01-01T00:00:00Z", "Note": "2026-11-20"}),
            serde_json::json!({"UtcTime": "2025-01-01 mimikatz", "Note": "1.5"}),
            serde_json::json!({"Note": {"UtcTime": "2026-11-20"}, "Other": "2026-11"}),
        ];
        // Each twice: a record met again has its shape, its scalars their
        // fields.
        let records: Vec<_> = records
            .iter()
            .flat_map(|r| [r.clone(), r.clone()])
            .collect();
        let mut events = crate::test_support::decoded_stream(&records);
        assert!(events.iter().any(|e| e.fields.shape_id().is_some()));
        let mut scratch = PrefilterScratch::default();
        let mut fired = Vec::new();
        for (record, event) in records.iter().zip(&mut events) {
            event.logsource = event_logsource();
            let mut filtered = Vec::new();
            set.matches_prefiltered(event, &pf, &mut scratch, &mut filtered);
            assert_eq!(filtered, set.matches(event), "{record}");
            fired.push(filtered.len());
        }
        assert_eq!(fired, [1, 1, 0, 0, 1, 1, 0, 0]);
        // Without such a literal no text of stamp bytes is scanned, and
        // none could have marked a rule.
        let pf = Prefilter::new(&one_rule("{kw: ['2026x', mimikatz], condition: kw}"));
        assert!(!pf.stamp_literals_anywhere && !pf.stamp_literals.contains(&true));
        for stamp in [
            "2026-11-20T00:00:03.862Z",
            "+01:00",
            "1.5",
            "10/11/2026 12:00",
            "",
        ] {
            assert!(is_stamp_text(stamp), "{stamp}");
        }
        for other in ["2026x", "/usr/bin/id", "0xff", "1e5"] {
            assert!(!is_stamp_text(other), "{other}");
        }
    }

    #[test]
    fn a_dotted_field_is_found_under_its_first_key_or_flat() {
        let set = one_rule("{sel: {objectRef.subresource: exec}, kw: [zzz], condition: sel or kw}");
        let pf = Prefilter::over(&set, &[0]);
        assert!(pf.scan_all, "the keyword makes it scan every scalar");
        let nested = serde_json::json!({"objectRef": {"subresource": "exec"}});
        let flat = serde_json::json!({"objectRef.subresource": "exec"});
        let other = serde_json::json!({"objectRefs": "exec", "verb": "exec"});
        assert_eq!(passed(&pf, nested), [0]);
        assert_eq!(passed(&pf, flat), [0]);
        assert!(passed(&pf, other).is_empty());
    }

    #[test]
    fn a_regex_rule_waits_for_its_literals() {
        let set = one_rule("{sel: {CommandLine|re: '-(W|R) ([0-9a-f]{2} ?){2,}'}, condition: sel}");
        let pf = Prefilter::over(&set, &[0]);
        assert_eq!(pf.unfiltered, [0], "the regex gives literals");
        let hit = serde_json::json!({"CommandLine": "pnscan -W 0a 0b 10.0.0.0/8"});
        let near = serde_json::json!({"CommandLine": "tar -r x.tar"});
        let miss = serde_json::json!({"CommandLine": "ls -l"});
        assert_eq!(passed(&pf, hit.clone()), [0]);
        assert!(set.rule_matches(0, &event(hit)));
        // `-r` passes the prefilter (its literals fold case); the regex,
        // case-sensitive, then decides.
        assert_eq!(passed(&pf, near.clone()), [0]);
        assert!(!set.rule_matches(0, &event(near)));
        assert!(passed(&pf, miss).is_empty());
    }
}

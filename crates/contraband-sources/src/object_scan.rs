//! A strict reader of one JSON object's top level, member by member.
//!
//! Generic JSON records are flat objects whose members are mostly short
//! strings; serde_json builds them through its visitor machinery and, for
//! a member wanted as text (the container object, looked up in a cache),
//! validates every byte again to capture it. This reader walks the top
//! level itself: names and plain strings are sliced out of the record,
//! small integers read in place, and everything else (escapes, other
//! numbers) is handed to serde_json exactly as it appears. Read into an
//! event's fields ([`read_fields`]), a plain string stays in the record and
//! a nested object or array becomes the event's tree of places in it
//! ([`contraband_event::TreeBuilder`]); one that is not plain enough for a
//! tree (escaped or repeated keys, very wide or deep) is parsed by
//! serde_json. A nested value can also be delimited without being parsed,
//! so a caller can look it up by its text.
//!
//! It accepts only what serde_json accepts, and yields the same values.
//! Where it is unsure it gives up (`None`) and the caller takes serde_json's
//! path, which reports the error: being strict costs nothing but speed.
//! Written here because no JSON crate exposes member spans of a record
//! being parsed (serde_json does not; simd-json and sonic-rs have their own
//! value types, and sonic-rs wants CPU-specific builds for its speed).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use contraband_event::{
    short_eq, FieldName, Fields, KeyCache, TreeBuilder, TreeValue, TREE_MAX_KEYS,
};
use serde_json::Value;

/// Reads the members of the object `record` holds into fields, their names
/// shared through `keys` (a stream's records repeat their names, mostly in
/// order, and mostly one of a few lists of them: see [`KeyCache::name_next`]).
/// Strings without escapes stay in the record as text. `special` sees each
/// name first and may take the member's value itself (`Some(true)`).
/// `None` when the text is not an object [`ObjectScan`] accepts, or
/// `special` gives up. With the fields comes the id of their names' shape
/// ([`KeyCache::record_read`]), when they have one.
pub(crate) fn read_fields<'t>(
    record: &'t Arc<str>,
    keys: &mut KeyCache,
    mut special: impl FnMut(&str, &mut ObjectScan<'t>) -> Option<bool>,
) -> Option<(Fields, Option<u64>)> {
    let mut fields = Fields::over_record(record.clone(), fields_room(keys));
    let mut scan = ObjectScan::open(record)?;
    let mut position = 0;
    loop {
        let expected = keys.at(position).map(|k| &**k);
        // Compact records (no space between members) take the kept name
        // without the general reader's bookkeeping.
        let member = if expected.is_some_and(|e| scan.takes_name(e)) {
            Some(Name::Expected)
        } else {
            scan.next_name(expected).ok()?
        };
        let read = match member {
            None => {
                let shape = keys.record_read(&fields);
                return Some((fields, shape));
            }
            Some(Name::Expected) => None,
            Some(Name::Read(Cow::Borrowed(name))) => Some(keys.name(position, name)),
            // Only names read without escapes are kept, so each kept name
            // is valid JSON between quotes as it stands, as `next_name`
            // needs of the name it expects.
            Some(Name::Read(Cow::Owned(name))) => Some(Arc::from(name)),
        };
        let name = match &read {
            Some(name) => name,
            None => keys.at(position)?,
        };
        if !special(name, &mut scan)? {
            let name = keys.name_next(&mut fields, name);
            // Compact records' strings and integers without the general
            // reader's call (its bookkeeping was ~40 instructions a field).
            if let Some(text) = scan.takes_plain_string() {
                fields.set_text(name, text)?;
            } else if let Some(n) = scan.takes_plain_integer() {
                fields.set_json(name, Value::from(n))?;
            } else {
                scan.value_into(name, &mut fields)?;
            }
        }
        position += 1;
    }
}

/// Room for a record's fields, made at once: growing the list step by step
/// reallocates it four times. The stream's longest record so far, plus what
/// a mapping adds, is usually exact; a guess sized to the first record's
/// start is [`FIELDS_HINT`]. (The list itself is usually a dropped event's,
/// see [`Fields::with_capacity`].)
fn fields_room(keys: &KeyCache) -> usize {
    match keys.positions() {
        0 => FIELDS_HINT,
        n => n + MAPPING_ROOM,
    }
}

const FIELDS_HINT: usize = 18;
/// Digits of an integer read without overflow checks: 10^19 - 1 is below
/// `u64::MAX`.
const MAX_PLAIN_DIGITS: usize = 19;
/// Nesting deeper than this is left to serde_json (which takes 128).
const TREE_MAX_DEPTH: usize = 64;
/// Fields a mapping commonly adds to a record (copies under Sigma names).
const MAPPING_ROOM: usize = 4;

/// A member's name as [`ObjectScan::next_name`] found it.
#[derive(Debug, PartialEq)]
pub(crate) enum Name<'t> {
    /// The name the caller expected.
    Expected,
    /// Another name, as read (unescaped if it had escapes).
    Read(Cow<'t, str>),
}

/// The top level of one object, read front to back.
pub(crate) struct ObjectScan<'t> {
    text: &'t str,
    at: usize,
    /// A member was read: the next one needs a comma first.
    after_member: bool,
}

impl<'t> ObjectScan<'t> {
    /// Past the opening brace of the object `text` holds; `None` if it is
    /// not one.
    pub(crate) fn open(text: &'t str) -> Option<ObjectScan<'t>> {
        let mut scan = ObjectScan {
            text,
            at: 0,
            after_member: false,
        };
        scan.skip_space();
        scan.expect(b'{')?;
        Some(scan)
    }

    /// The next member's name, `Ok(None)` past the closing brace (with
    /// nothing but whitespace after it), `Err` when the text goes wrong.
    /// After a name, read its value with [`ObjectScan::value`] or
    /// [`ObjectScan::value_text`].
    ///
    /// `expected` is the name the caller guesses comes next (records of a
    /// stream repeat their names in order): when it does, it is matched in
    /// place rather than read. It must be written in JSON as it stands (no
    /// quote, backslash or control character), which any name read
    /// without escapes is.
    pub(crate) fn next_name(&mut self, expected: Option<&str>) -> Result<Option<Name<'t>>, ()> {
        self.skip_space();
        match self.peek() {
            Some(b'}') => {
                self.at += 1;
                self.skip_space();
                return if self.at == self.text.len() {
                    Ok(None)
                } else {
                    Err(())
                };
            }
            Some(b',') if self.after_member => {
                self.at += 1;
                self.skip_space();
            }
            _ if self.after_member => return Err(()),
            _ => {}
        }
        let name = match expected {
            Some(expected) if self.quoted_here(expected) => {
                self.at += expected.len() + 2;
                Name::Expected
            }
            _ => Name::Read(self.string().ok_or(())?),
        };
        self.skip_space();
        self.expect(b':').ok_or(())?;
        self.after_member = true;
        Ok(Some(name))
    }

    /// Takes `,"name":` (no comma before the first member) when it is
    /// exactly what comes next, as [`ObjectScan::next_name`] would take it
    /// as [`Name::Expected`]; anything else (spaces, another name, the
    /// end) is left for it. `name` must be written in JSON as it stands.
    #[inline(always)]
    pub(crate) fn takes_name(&mut self, name: &str) -> bool {
        let bytes = self.bytes();
        let at = self.at + usize::from(self.after_member);
        if self.after_member && bytes.get(self.at) != Some(&b',') {
            return false;
        }
        let colon = at + name.len() + 2;
        let Some(here) = bytes.get(at..=colon) else {
            return false;
        };
        let framed =
            here[0] == b'"' && here[name.len() + 1] == b'"' && here[name.len() + 2] == b':';
        if !framed || !short_eq(&here[1..=name.len()], name.as_bytes()) {
            return false;
        }
        self.at = colon + 1;
        self.after_member = true;
        true
    }

    /// Takes a string without escapes that starts right here (no space
    /// before it), giving its text's range; anything else is left for
    /// [`ObjectScan::value_into`], which reads it as it would have.
    #[inline(always)]
    pub(crate) fn takes_plain_string(&mut self) -> Option<Range<usize>> {
        let bytes = self.bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let from = self.at + 1;
        let len = find_special(bytes.get(from..)?)?;
        if bytes[from + len] != b'"' {
            return None;
        }
        self.at = from + len + 1;
        Some(from..from + len)
    }

    /// Takes an unsigned integer of up to 19 digits without a leading
    /// zero, starting right here (it always fits a `u64`, and serde_json
    /// makes the same value of it); anything else is left where it is.
    #[inline(always)]
    pub(crate) fn takes_plain_integer(&mut self) -> Option<u64> {
        let bytes = self.bytes();
        let start = self.at;
        let (mut end, mut n) = (start, 0u64);
        while let Some(d) = bytes
            .get(end)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|&d| d < 10)
        {
            // Wrapping: a number past 19 digits is not taken anyway.
            n = n.wrapping_mul(10).wrapping_add(u64::from(d));
            end += 1;
        }
        let digits = end - start;
        let plain = (1..=MAX_PLAIN_DIGITS).contains(&digits)
            && (digits == 1 || bytes[start] != b'0')
            && !matches!(bytes.get(end), Some(b'-' | b'+' | b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        self.at = end;
        Some(n)
    }

    /// Is `text`, in quotes, next? (A plain text then is that string.)
    fn quoted_here(&self, text: &str) -> bool {
        let bytes = self.bytes();
        let (open, close) = (self.at, self.at + 1 + text.len());
        bytes.get(open) == Some(&b'"')
            && bytes
                .get(open + 1..close)
                .is_some_and(|here| short_eq(here, text.as_bytes()))
            && bytes.get(close) == Some(&b'"')
    }

    /// The current member's value.
    pub(crate) fn value(&mut self) -> Option<Value> {
        self.skip_space();
        Some(match *self.bytes().get(self.at)? {
            b'"' => Value::String(self.string()?.into_owned()),
            b'0'..=b'9' | b'-' => self.number()?,
            b't' => self.word("true", Value::Bool(true))?,
            b'f' => self.word("false", Value::Bool(false))?,
            b'n' => self.word("null", Value::Null)?,
            b'{' | b'[' => self.parse_nested()?,
            _ => return None,
        })
    }

    /// Sets field `name` to the current member's value: a string without
    /// escapes as its place in the text (which must be the record `fields`
    /// are over), an object or array as a tree when it is plain enough,
    /// anything else as JSON.
    fn value_into(&mut self, name: FieldName<'_>, fields: &mut Fields) -> Option<()> {
        self.skip_space();
        if let Some(b'{' | b'[') = self.peek() {
            let start = self.at;
            let mut tree = fields.tree();
            let root = tree.push(0..0)?;
            if self.tree_value(&mut tree, root, 0).is_some() {
                let root = tree.finish(root);
                return fields.set_tree(name, root);
            }
            // Not plain enough for a tree: serde_json reads it (and says
            // what is wrong with it, if anything).
            drop(tree);
            self.at = start;
            return fields.set_json(name, self.parse_nested()?);
        }
        if self.peek() == Some(b'"') {
            let (start, end, escaped) = self.string_span()?;
            if !escaped {
                return fields.set_text(name, start + 1..end - 1);
            }
            return fields.set_json(name, Value::String(self.unescape(start, end)?));
        }
        fields.set_json(name, self.value()?)
    }

    /// Reads the value at `self.at` into node `at` of `tree`, objects and
    /// arrays member by member. `None` for anything it does not take
    /// whole (bad JSON, escaped or repeated keys, objects past
    /// [`TREE_MAX_KEYS`] members, nesting past [`TREE_MAX_DEPTH`]).
    fn tree_value(&mut self, tree: &mut TreeBuilder<'_>, at: u32, depth: usize) -> Option<()> {
        self.skip_space();
        let value = match self.peek()? {
            b'"' => {
                let (start, end, escaped) = self.string_span()?;
                if escaped {
                    TreeValue::Json(Value::String(self.unescape(start, end)?))
                } else {
                    TreeValue::Text(start as u32 + 1, end as u32 - 1)
                }
            }
            b'{' => self.tree_object(tree, depth)?,
            b'[' => self.tree_array(tree, depth)?,
            _ => TreeValue::Json(self.value()?),
        };
        tree.set(at, value)
    }

    /// Moves past `open` and any space after it; `Some(true)` when
    /// `close` follows at once (an empty object or array, moved past too).
    /// `None` at the tree's depth limit.
    fn enter(&mut self, open: u8, close: u8, depth: usize) -> Option<bool> {
        if depth == TREE_MAX_DEPTH {
            return None;
        }
        self.expect(open)?;
        self.skip_space();
        Some(self.expect(close).is_some())
    }

    fn tree_object(&mut self, tree: &mut TreeBuilder<'_>, depth: usize) -> Option<TreeValue> {
        if self.enter(b'{', b'}', depth)? {
            return Some(TreeValue::Object { first: 0, len: 0 });
        }
        let mut members = [0u32; TREE_MAX_KEYS];
        let mut len = 0;
        // A bit per name length and first and last byte seen: a name whose
        // bit is clear repeats none, and needs no comparisons.
        let mut seen = 0u64;
        loop {
            self.skip_space();
            let (start, end, escaped) = self.string_span()?;
            if escaped || len == TREE_MAX_KEYS {
                return None;
            }
            let name = &self.bytes()[start + 1..end - 1];
            let bit = 1u64 << (name_print(name) % 64);
            let node = tree.push(start + 1..end - 1)?;
            if seen & bit != 0 && tree.same_name(node, &members[..len]) {
                return None;
            }
            seen |= bit;
            if let Some(&last) = members[..len].last() {
                tree.link(last, node);
            }
            members[len] = node;
            len += 1;
            self.skip_space();
            self.expect(b':')?;
            self.tree_value(tree, node, depth + 1)?;
            self.skip_space();
            if self.expect(b',').is_none() {
                self.expect(b'}')?;
                return Some(TreeValue::Object {
                    first: members[0],
                    len: len as u32,
                });
            }
        }
    }

    fn tree_array(&mut self, tree: &mut TreeBuilder<'_>, depth: usize) -> Option<TreeValue> {
        if self.enter(b'[', b']', depth)? {
            return Some(TreeValue::Json(Value::Array(Vec::new())));
        }
        let (mut first, mut last, mut len) = (None, None, 0u32);
        loop {
            let node = tree.push(0..0)?;
            match last {
                Some(last) => tree.link(last, node),
                None => first = Some(node),
            }
            last = Some(node);
            len += 1;
            self.tree_value(tree, node, depth + 1)?;
            self.skip_space();
            if self.expect(b',').is_none() {
                self.expect(b']')?;
                return Some(TreeValue::Array { first: first?, len });
            }
        }
    }

    /// The current member's value as its text, delimited but not checked
    /// (the caller parses it, or finds it among texts it parsed before).
    pub(crate) fn value_text(&mut self) -> Option<&'t str> {
        self.skip_space();
        match *self.bytes().get(self.at)? {
            b'{' | b'[' => self.nested(),
            _ => {
                let start = self.at;
                self.value()?;
                Some(&self.text[start..self.at])
            }
        }
    }

    /// The text from the current member's value on, for a caller that
    /// recognises a value it read before; see [`ObjectScan::skip_value`].
    pub(crate) fn rest(&mut self) -> &'t str {
        self.skip_space();
        &self.text[self.at..]
    }

    /// Moves past the first `len` bytes of [`ObjectScan::rest`], which the
    /// caller vouches are one whole JSON value.
    pub(crate) fn skip_value(&mut self, len: usize) {
        self.at = (self.at + len).min(self.text.len());
    }

    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// A string from its opening quote: sliced when it has no escapes,
    /// else unescaped by serde_json.
    fn string(&mut self) -> Option<Cow<'t, str>> {
        let (start, end, escaped) = self.string_span()?;
        if escaped {
            return self.unescape(start, end).map(Cow::Owned);
        }
        Some(Cow::Borrowed(&self.text[start + 1..end - 1]))
    }

    /// The string with escapes at `start..end`, quotes included.
    fn unescape(&self, start: usize, end: usize) -> Option<String> {
        serde_json::from_str(&self.text[start..end]).ok()
    }

    /// The span of the string opening at `self.at`, quotes included, and
    /// whether it has escapes; moves past it. Raw control characters are
    /// not JSON.
    fn string_span(&mut self) -> Option<(usize, usize, bool)> {
        let bytes = self.bytes();
        let start = self.at;
        if bytes.get(start) != Some(&b'"') {
            return None;
        }
        let mut at = start + 1;
        let mut escaped = false;
        loop {
            at += find_special(bytes.get(at..)?)?;
            match bytes[at] {
                b'"' => break,
                // A backslash and the character it escapes (serde_json
                // checks the escape itself).
                b'\\' => {
                    escaped = true;
                    at += 2;
                }
                _ => return None,
            }
        }
        self.at = at + 1;
        Some((start, at + 1, escaped))
    }

    /// A number. Unsigned integers of up to 19 digits without leading
    /// zeros (they always fit a `u64`) are read here, in one pass with no
    /// overflow checks (serde_json makes the same value of them); anything
    /// else is handed to serde_json.
    fn number(&mut self) -> Option<Value> {
        if let Some(n) = self.takes_plain_integer() {
            return Some(Value::from(n));
        }
        let bytes = self.bytes();
        let start = self.at;
        let len = bytes[start..]
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(bytes.len() - start);
        self.at = start + len;
        let value: Value = serde_json::from_str(&self.text[start..start + len]).ok()?;
        value.is_number().then_some(value)
    }

    fn word(&mut self, word: &str, value: Value) -> Option<Value> {
        self.bytes()[self.at..]
            .starts_with(word.as_bytes())
            .then(|| {
                self.at += word.len();
                value
            })
    }

    /// The object or array opening at `self.at`, parsed by serde_json in
    /// the same pass that finds its end (delimiting it first would read
    /// it twice); moves past it.
    fn parse_nested(&mut self) -> Option<Value> {
        let mut stream = serde_json::Deserializer::from_str(&self.text[self.at..]).into_iter();
        let value = stream.next()?.ok()?;
        self.at += stream.byte_offset();
        Some(value)
    }

    /// The text of the object or array opening at `self.at`, found by
    /// counting brackets outside strings; moves past it. Mismatched
    /// brackets are left for the parse of the text to reject.
    fn nested(&mut self) -> Option<&'t str> {
        let bytes = self.bytes();
        let start = self.at;
        let mut depth = 0usize;
        while self.at < bytes.len() {
            match bytes[self.at] {
                b'"' => {
                    self.string_span()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(&self.text[start..self.at]);
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
        None
    }
}

/// A name's length and first and last bytes, mixed: equal names have
/// equal prints.
fn name_print(name: &[u8]) -> u32 {
    let (first, last) = match name {
        [] => (0, 0),
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
    };
    (name.len() as u32)
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(u32::from(first) * 31 + u32::from(last))
        >> 7
}

/// Where the plain run of a JSON string in `bytes` ends: the first quote,
/// backslash or control character (which JSON does not allow raw). Eight
/// bytes a step: in each word, a byte equal to a quote or a backslash, or
/// below 0x20, gets its high bit set. Borrows can flag bytes above a true
/// hit, never below one, so the lowest flag is exact.
#[inline]
fn find_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGHS: u64 = ONES * 0x80;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x;
    let mut words = bytes.chunks_exact(8);
    for (i, word) in (&mut words).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let hits = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w);
        if hits & HIGHS != 0 {
            return Some(i * 8 + (hits & HIGHS).trailing_zeros() as usize / 8);
        }
    }
    let done = bytes.len() - words.remainder().len();
    words
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| done + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contraband_event::ValueRef;
    use serde_json::Map;

    /// Every member as (name, value), or `None` where the scan gives up.
    fn members(text: &str) -> Option<Map<String, Value>> {
        members_guessing(text, &[])
    }

    /// [`members`], expecting the names of `guesses` in turn.
    fn members_guessing(text: &str, guesses: &[&str]) -> Option<Map<String, Value>> {
        let mut scan = ObjectScan::open(text)?;
        let mut map = Map::new();
        let mut guess = guesses.iter().cycle();
        loop {
            let expected = guess.next().copied();
            let name = match scan.next_name(expected).ok()? {
                None => break,
                Some(Name::Expected) => expected.unwrap().to_string(),
                Some(Name::Read(name)) => name.into_owned(),
            };
            let value = scan.value()?;
            map.insert(name, value);
        }
        Some(map)
    }

    /// The scan agrees with serde_json: where it reads a text, serde_json
    /// reads the same object; where serde_json refuses one, so does it.
    /// Guessing names changes nothing. Read into fields, nested values as
    /// trees, it agrees too (see [`fields_agree`]).
    fn agrees(text: &str) -> bool {
        let theirs: Option<Map<String, Value>> = serde_json::from_str(text).ok();
        let ours = members(text);
        let guessed = members_guessing(text, &["k", "v", "", "a"]);
        ours == guessed
            && match ours {
                Some(ours) => theirs.as_ref() == Some(&ours),
                None => true,
            }
            && fields_agree(text, theirs.as_ref())
    }

    /// [`read_fields`] (strings as text, nested values as trees) reads
    /// what serde_json reads, and every path a rule could name reaches the
    /// same values, in the same order, as over serde_json's tree. So does
    /// a second read of the record, whose names the shape the first one
    /// left gives.
    fn fields_agree(text: &str, theirs: Option<&Map<String, Value>>) -> bool {
        let record: Arc<str> = Arc::from(text);
        let mut keys = KeyCache::default();
        let Some((first, _)) = read_fields(&record, &mut keys, |_, _| Some(false)) else {
            return true;
        };
        let Some((second, _)) = read_fields(&record, &mut keys, |_, _| Some(false)) else {
            return false;
        };
        let Some(theirs) = theirs else {
            return false;
        };
        let json = Fields::from(theirs.clone());
        first.len() == json.len()
            && fields_agree_as_events(first, json.clone(), theirs)
            && fields_agree_as_events(second, json, theirs)
    }

    /// [`fields_agree`] of one read, `ours`.
    fn fields_agree_as_events(ours: Fields, json: Fields, theirs: &Map<String, Value>) -> bool {
        if ours != json || serde_json::to_string(&ours).ok() != serde_json::to_string(&json).ok() {
            return false;
        }
        let event = |fields: Fields| {
            contraband_event::Event::new(Default::default(), Default::default(), fields)
        };
        let (ours, json) = (event(ours), event(json));
        let mut paths = vec!["0".to_string(), "a.0".to_string(), "x.y".to_string()];
        for (k, v) in theirs {
            paths_of(k, v, &mut paths);
        }
        let seen = |e: &contraband_event::Event, path: &str| {
            let mut out = Vec::new();
            let _ = e.visit(path, &mut |v| {
                out.push(v.to_value());
                std::ops::ControlFlow::Continue(())
            });
            (out, e.get(path).cloned(), e.get_str(path).map(String::from))
        };
        let scalars = |e: &contraband_event::Event| {
            let mut out = Vec::new();
            let _ = e.for_each_scalar(&mut |v| {
                out.push(v.to_value());
                std::ops::ControlFlow::Continue(())
            });
            out
        };
        paths.iter().all(|p| seen(&ours, p) == seen(&json, p)) && scalars(&ours) == scalars(&json)
    }

    /// Paths to the values under `name`, array positions included, down
    /// to a few levels.
    fn paths_of(name: &str, v: &Value, out: &mut Vec<String>) {
        paths_within(name, v, 4, out);
    }

    fn paths_within(name: &str, v: &Value, depth: usize, out: &mut Vec<String>) {
        out.push(name.to_string());
        if depth == 0 {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter().take(8) {
                    paths_within(&format!("{name}.{k}"), v, depth - 1, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate().take(2) {
                    paths_within(&format!("{name}.{i}"), v, depth - 1, out);
                }
                // Without a position, a path goes through every element.
                if let Some(first) = items.first() {
                    let mut under = Vec::new();
                    paths_within(name, first, depth - 1, &mut under);
                    out.extend(under.into_iter().skip(1));
                }
            }
            _ => {}
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"a":"x","b":1,"c":-2,"d":1.5e3,"e":true,"f":false,"g":null}"#,
            " { \"a\" :\t\"x\" ,\r\n\"b\": [1, {\"c\": \"]}\"}] } \n",
            r#"{"esc\"aped":"line\nbreak \u00e9 \ud83d\ude00","k":"\\"}"#,
            r#"{"n":{"deep":{"deeper":[[],{}]}},"s":"{not [nested"}"#,
            r#"{"big":18446744073709551615,"bigger":18446744073709551616,"zero":0}"#,
            r#"{"n19":9999999999999999999,"n20":10000000000000000000,"z":0.0,"e":0e1,"m":-0}"#,
            r#"{"dup":1,"dup":2}"#,
            "{}",
            r#"{"ünï":"cödé"}"#,
            r#"{"o":{"a":{"b":[1,"x",{"c":null}],"b.c":"flat"},"e":[],"f":{}},"g":[[1,2],[]]}"#,
            r#"{"o":{"k":1,"k":2},"p":{"esc\"aped":1},"q":{"s":"line\nbreak"}}"#,
        ] {
            let ours = members(text).unwrap_or_else(|| panic!("gave up on {text}"));
            let theirs: Map<String, Value> = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&theirs).unwrap(),
                "same order and number kinds: {text}"
            );
            assert!(fields_agree(text, Some(&theirs)), "as fields: {text}");
        }
    }

    #[test]
    fn nested_values_are_trees_unless_serde_json_must_read_them() {
        let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
        let wide: Vec<String> = (0..=TREE_MAX_KEYS)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect();
        let text = format!(
            r#"{{"tree":{{"a":[1,{{"b":"x"}}]}},"list":["x"],"empty":[],"dup":{{"k":1,"k":2}},"apart":{{"k":1,"abc":2,"defgh":[3],"k":4}},"esc":{{"\u0041":1}},"deep":{deep},"wide":{{{}}}}}"#,
            wide.join(",")
        );
        let record: Arc<str> = Arc::from(text.as_str());
        let (fields, _) =
            read_fields(&record, &mut KeyCache::default(), |_, _| Some(false)).unwrap();
        let is_tree = |name| matches!(fields.get_ref(name), Some(ValueRef::Tree(_)));
        assert!(is_tree("tree") && is_tree("list"));
        for name in ["empty", "dup", "apart", "esc", "deep", "wide"] {
            assert!(
                matches!(fields.get_ref(name), Some(ValueRef::Json(_))),
                "{name}"
            );
        }
        let theirs: Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert!(fields_agree(&text, Some(&theirs)));
        assert_eq!(fields.get("dup"), Some(&serde_json::json!({"k": 2})));
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            "[]",
            "{",
            r#"{"a":1,}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a" 1}"#,
            r#"{,"a":1}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":"x}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":"bad \q escape"}"#,
            r#"{"a":"\ud800 lone"}"#,
            r#"{"a":[1,}"#,
            r#"{"a":{"b":1]}"#,
            r#"{"a":[1]]}"#,
            r#"{"a":1}x"#,
            r#"{"a":1}{"b":2}"#,
            r#"{"a":'x'}"#,
            r#"{a:1}"#,
        ] {
            let theirs = serde_json::from_str::<Map<String, Value>>(text);
            assert!(theirs.is_err(), "{text} is a JSON object");
            assert_eq!(members(text), None, "read {text:?}");
        }
    }

    #[test]
    fn finds_the_first_special_byte_at_every_offset() {
        for len in 0..20 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    // Bytes that sit near the specials in value or bits.
                    let mut bytes: Vec<u8> = (0..len)
                        .map(|i| [b'a', 0x20, b'#', b'[', 0x80, 0xa2, 0xdc, 0xff][i % 8])
                        .collect();
                    let want = (at < len).then(|| {
                        bytes[at] = special;
                        at
                    });
                    // A later special must not hide the first.
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    let want = want.or((at + 1 < len).then_some(at + 1));
                    assert_eq!(find_special(&bytes), want, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn value_text_is_the_member_as_written() {
        let text = r#"{"c":{"id":"a}b","x":[1,{"y":"\""}]},"n": 12 ,"s":"q"}"#;
        let mut scan = ObjectScan::open(text).unwrap();
        let mut got = Vec::new();
        while let Some(Name::Read(name)) = scan.next_name(None).unwrap() {
            got.push((name.into_owned(), scan.value_text().unwrap()));
        }
        assert_eq!(
            got,
            [
                ("c".into(), r#"{"id":"a}b","x":[1,{"y":"\""}]}"#),
                ("n".into(), "12"),
                ("s".into(), r#""q""#),
            ]
        );
    }

    #[test]
    fn the_compact_path_takes_only_what_next_name_would_take_as_expected() {
        // (text, name, taken): the text is an object's start, the name is
        // expected first, then "b" second.
        let cases = [
            (r#"{"a":1,"b":2}"#, "a", true),
            (r#"{ "a":1,"b":2}"#, "a", false),
            (r#"{"a" :1,"b":2}"#, "a", false),
            (r#"{"ab":1,"b":2}"#, "a", false),
            (r#"{"a":1,"b":2}"#, "ab", false),
            (r#"{"\u0061":1,"b":2}"#, "a", false),
            (r#"{}"#, "a", false),
            (r#"{"a""#, "a", false),
        ];
        for (text, name, taken) in cases {
            let mut scan = ObjectScan::open(text).unwrap();
            assert_eq!(scan.takes_name(name), taken, "{text}");
            if !taken {
                continue;
            }
            // Where next_name would have left it: at the value.
            let mut general = ObjectScan::open(text).unwrap();
            assert_eq!(general.next_name(Some(name)), Ok(Some(Name::Expected)));
            assert_eq!(scan.at, general.at, "{text}");
            assert_eq!(scan.value(), Some(serde_json::json!(1)));
            for (after, taken) in [("b", true), ("c", false)] {
                let mut at_b = ObjectScan { ..scan };
                assert_eq!(at_b.takes_name(after), taken, "{text} then {after}");
            }
        }
        // After a member, a comma must come first and touch the name.
        let mut scan = ObjectScan::open(r#"{"a":1 ,"b":2, "c":3}"#).unwrap();
        assert!(scan.takes_name("a"));
        scan.value().unwrap();
        assert!(!scan.takes_name("b"), "a space before the comma");
        assert_eq!(scan.next_name(Some("b")), Ok(Some(Name::Expected)));
        scan.value().unwrap();
        assert!(!scan.takes_name("c"), "a space after the comma");
    }

    #[test]
    fn an_expected_name_is_matched_only_whole() {
        let text = r#"{"Image" : 1, "Imag":2, "Images":3, "Im\u0061ge":4}"#;
        let mut scan = ObjectScan::open(text).unwrap();
        let mut got = Vec::new();
        while let Some(name) = scan.next_name(Some("Image")).unwrap() {
            scan.value().unwrap();
            got.push(name);
        }
        assert_eq!(
            got,
            [
                Name::Expected,
                Name::Read("Imag".into()),
                Name::Read("Images".into()),
                // Escaped, it is read (and unescaped), not matched.
                Name::Read("Image".into()),
            ]
        );
        // A name guessed but absent never matches past the text's end.
        let mut scan = ObjectScan::open(r#"{"Ima"#).unwrap();
        assert_eq!(scan.next_name(Some("Image")), Err(()));
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        /// Text that is JSON-like: mostly objects of the members records
        /// have, with the characters that trip scanners mixed in.
        fn record() -> impl Strategy<Value = String> {
            let atom = prop_oneof![
                Just("\"".to_string()),
                Just("\\".to_string()),
                Just(",".to_string()),
                Just(":".to_string()),
                Just("{".to_string()),
                Just("}".to_string()),
                Just("[".to_string()),
                Just("]".to_string()),
                Just(" ".to_string()),
                Just("\"k\":".to_string()),
                Just("\"v\"".to_string()),
                Just("\\u00e9".to_string()),
                Just("\\ud83d".to_string()),
                "-?[0-9]{1,22}(\\.[0-9]{0,3})?([eE][-+]?[0-9]{0,3})?",
                Just("true".to_string()),
                Just("null".to_string()),
                "[a-z\t\u{1}é]{0,3}",
            ];
            prop::collection::vec(atom, 0..24).prop_map(|parts| format!("{{{}}}", parts.concat()))
        }

        /// Objects serde_json writes: the scan must read every one.
        fn written() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                any::<String>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
                Just(Value::Null),
            ];
            let value = leaf.prop_recursive(3, 16, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map(".{0,6}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            });
            prop::collection::vec((".{0,8}", value), 0..8).prop_map(|members| {
                let map: Map<String, Value> = members.into_iter().collect();
                serde_json::to_string(&map).unwrap()
            })
        }

        proptest! {
            #[test]
            fn never_disagrees_with_serde_json(text in record()) {
                prop_assert!(agrees(&text), "{text}");
            }

            #[test]
            fn any_text_is_read_as_serde_json_reads_it(text in "\\{.{0,40}") {
                prop_assert!(agrees(&text), "{text}");
            }

            #[test]
            fn reads_every_object_serde_json_writes(text in written()) {
                prop_assert!(members(&text).is_some(), "gave up on {text}");
                prop_assert!(agrees(&text), "{text}");
            }
        }
    }
}

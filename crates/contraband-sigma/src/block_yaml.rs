//! A reader for the part of YAML that rule files are written in, so that
//! most files skip the general parser.
//!
//! Loading the SigmaHQ corpus spent more than half of its instructions in
//! `yaml_serde`'s parser, ~200 an input byte. Rules use little of YAML:
//! block mappings and sequences, plain and quoted scalars on one line,
//! literal and folded block scalars, comments. This reader takes exactly
//! that and answers `None` for everything else — flow collections, anchors,
//! aliases, tags, scalars spread over lines, several documents, tabs — and
//! for anything it is not sure of. It never rejects a file: a `None` sends
//! the file to `yaml_serde`, whose errors and positions are the ones a user
//! sees. What it accepts it reads to the value `yaml_serde` reads, which
//! the tests check on every file of the SigmaHQ corpus and on generated
//! documents.

use yaml_serde::{Mapping, Number, Value as Yaml};

/// Deeper nesting goes to the general parser (which has its own bound).
const MAX_DEPTH: usize = 64;
/// YAML's longest implicit key.
const MAX_KEY: usize = 1024;

/// The one document of `text`, or `None` when the file needs the general
/// parser.
pub(crate) fn parse(text: &str) -> Option<Yaml> {
    if !plain_input(text) {
        return None;
    }
    let mut lines = Vec::with_capacity(text.len() / 24);
    let mut start = 0;
    // (`str::split` cost ~200 instructions a line, most lines being short)
    for end in memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]) {
        let raw = &text[start..end];
        start = end + 1;
        if raw.starts_with("---") || raw.starts_with("...") || raw.starts_with('%') {
            return None; // document markers and directives
        }
        lines.push(Line::new(raw));
    }
    let mut reader = Reader {
        lines,
        pos: 0,
        depth: 0,
    };
    reader.skip_empty();
    if reader.lines.get(reader.pos)?.indent != 0 {
        return None;
    }
    let doc = reader.mapping(0)?;
    reader.skip_empty();
    (reader.pos == reader.lines.len()).then_some(Yaml::Mapping(doc))
}

/// No byte the general parser would treat specially before any syntax:
/// tabs, carriage returns, control characters, a byte-order mark, and the
/// characters YAML reads as line breaks (NEL, LS, PS).
fn plain_input(text: &str) -> bool {
    if text
        .bytes()
        .all(|b| b == b'\n' || (b' '..=b'~').contains(&b))
    {
        return true;
    }
    text.chars().all(|c| match c {
        '\n' | ' '..='~' => true,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => false,
        c => c >= '\u{a0}',
    })
}

/// A line: its indentation and what follows it.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn new(raw: &'a str) -> Line<'a> {
        let text = raw.trim_start_matches(' ');
        Line {
            indent: raw.len() - text.len(),
            text,
        }
    }

    /// Blank or a comment: no node starts here.
    fn is_empty(&self) -> bool {
        self.text.is_empty() || self.text.starts_with('#')
    }
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    /// The next line to read.
    pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn skip_empty(&mut self) {
        while self.lines.get(self.pos).is_some_and(Line::is_empty) {
            self.pos += 1;
        }
    }

    /// The next line a node could start on, past blanks and comments.
    fn next_node_line(&mut self) -> Option<Line<'a>> {
        self.skip_empty();
        self.lines.get(self.pos).copied()
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// The block mapping whose keys are at column `col`, the current line
    /// its first entry.
    fn mapping(&mut self, col: usize) -> Option<Mapping> {
        self.enter()?;
        let mut map = Mapping::new();
        while let Some(line) = self.next_node_line() {
            if line.indent < col {
                break;
            }
            if line.indent > col || is_entry(line.text) {
                return None;
            }
            let (key, rest) = key(line.text)?;
            self.pos += 1;
            let value = match value_text(rest) {
                Some(text) => self.inline(text, col)?,
                None => self.nested(col, true)?,
            };
            match map.entry(key) {
                yaml_serde::mapping::Entry::Vacant(slot) => slot.insert(value),
                // the general parser's error to give
                yaml_serde::mapping::Entry::Occupied(_) => return None,
            };
        }
        self.depth -= 1;
        Some(map)
    }

    /// The block sequence whose dashes are at column `col`.
    fn sequence(&mut self, col: usize) -> Option<Vec<Yaml>> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(line) = self.next_node_line() {
            if line.indent < col || (line.indent == col && !is_entry(line.text)) {
                break;
            }
            if line.indent > col {
                return None;
            }
            let after_dash = &line.text[1..];
            let Some(content) = value_text(after_dash) else {
                self.pos += 1;
                items.push(self.nested(col, false)?);
                continue;
            };
            // What follows the dash is a node of its own at its column: the
            // first entry of a mapping whose other keys line up under it,
            // a sequence, or a scalar.
            let at = col + 1 + (after_dash.len() - content.len());
            if is_entry(content) || key(content).is_some() {
                self.lines[self.pos] = Line {
                    indent: at,
                    text: content,
                };
                items.push(self.collection(at)?);
            } else {
                self.pos += 1;
                items.push(self.inline(content, col)?);
            }
        }
        self.depth -= 1;
        Some(items)
    }

    /// The mapping or sequence starting on the current line, at `col`.
    fn collection(&mut self, col: usize) -> Option<Yaml> {
        let line = self.lines[self.pos];
        if is_entry(line.text) {
            Some(Yaml::Sequence(self.sequence(col)?))
        } else {
            // A scalar alone on its line (`key:` then text under it) is no
            // key: the mapping gives up on it, leaving the file to the
            // general parser.
            Some(Yaml::Mapping(self.mapping(col)?))
        }
    }

    /// The value of a key or dash with nothing after it on its line: the
    /// collection on the lines under it, or null. A mapping's value may be
    /// a sequence whose dashes sit at the mapping's own column.
    fn nested(&mut self, col: usize, in_mapping: bool) -> Option<Yaml> {
        match self.next_node_line() {
            Some(line) if line.indent > col => self.collection(line.indent),
            Some(line) if in_mapping && line.indent == col && is_entry(line.text) => {
                Some(Yaml::Sequence(self.sequence(col)?))
            }
            _ => Some(Yaml::Null),
        }
    }

    /// A scalar starting at `text`, the rest of a line already read, inside
    /// a collection at column `col`.
    fn inline(&mut self, text: &'a str, col: usize) -> Option<Yaml> {
        let value = match text.as_bytes()[0] {
            b'"' | b'\'' => {
                let (s, rest) = quoted(text)?;
                line_ends(rest)?;
                Yaml::String(s)
            }
            b'|' | b'>' => return self.block_scalar(text, col),
            b'-' if is_entry(text) => return None,
            b if b != b'-' && is_indicator(b) => return None,
            _ => resolve_plain(plain_value(text)?)?,
        };
        // A line under it indented past the collection would continue it
        // (or be an error): left to the general parser. Comments end it.
        let next = self.lines[self.pos..].iter().find(|l| !l.text.is_empty());
        match next {
            Some(l) if l.indent > col && !l.text.starts_with('#') => None,
            _ => Some(value),
        }
    }

    /// A literal (`|`) or folded (`>`) scalar: `header` is its indicator
    /// line's rest, its lines follow.
    fn block_scalar(&mut self, header: &str, col: usize) -> Option<Yaml> {
        let folded = header.starts_with('>');
        let mut indicators = header[1..].bytes();
        let keep_last_break = match indicators.clone().next() {
            Some(b'-') => {
                indicators.next();
                false
            }
            // keeping trailing blank lines, and indentation given by a
            // digit, are rare enough to leave to the general parser
            Some(b'+' | b'0'..=b'9') => return None,
            _ => true,
        };
        let after = &header[header.len() - indicators.len()..];
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        line_ends(after)?;
        // The first line sets the indentation; leading blank lines (which
        // may set it too) are left to the general parser.
        let first = *self.lines.get(self.pos)?;
        if first.text.is_empty() || first.indent <= col {
            return None;
        }
        let indent = first.indent;
        let mut end = self.pos;
        let mut last_text = self.pos;
        while let Some(line) = self.lines.get(end) {
            if line.text.is_empty() {
                if line.indent > indent {
                    return None; // spaces that may be content
                }
            } else if line.indent < indent {
                break;
            } else {
                last_text = end;
            }
            end += 1;
        }
        let mut out = String::new();
        let mut blank_run = 0;
        for (i, line) in self.lines[self.pos..=last_text].iter().enumerate() {
            if line.text.is_empty() {
                blank_run += 1;
                continue;
            }
            let more_indented = line.indent - indent;
            if i > 0 {
                if folded {
                    if more_indented > 0 {
                        return None; // folding keeps these lines' breaks
                    }
                    if blank_run == 0 {
                        out.push(' ');
                    }
                } else {
                    out.push('\n');
                }
                out.extend(std::iter::repeat_n('\n', blank_run));
            }
            blank_run = 0;
            out.extend(std::iter::repeat_n(' ', more_indented));
            out.push_str(line.text);
        }
        // (a file may end without a break after the last line)
        if keep_last_break && last_text + 1 < self.lines.len() {
            out.push('\n');
        }
        // Blank lines after the text belong to no one; the next node starts
        // after them.
        self.pos = last_text + 1;
        Some(Yaml::String(out))
    }
}

/// `- ` or a lone `-`: a sequence entry.
fn is_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Characters that cannot start a plain scalar.
fn is_indicator(b: u8) -> bool {
    matches!(
        b,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// What follows a key's colon or a dash, if a node starts on this line;
/// `None` when the rest is blank or a comment.
fn value_text(rest: &str) -> Option<&str> {
    let text = rest.trim_start_matches(' ');
    (!text.is_empty() && !text.starts_with('#')).then_some(text)
}

/// After a closing quote or a block indicator: nothing, or a comment after
/// a space.
fn line_ends(rest: &str) -> Option<()> {
    let text = rest.trim_start_matches(' ');
    (text.is_empty() || (text.starts_with('#') && text.len() < rest.len())).then_some(())
}

/// A mapping key at the start of `text`, and the rest of the line after
/// its colon.
fn key(text: &str) -> Option<(Yaml, &str)> {
    let (key, rest) = match text.as_bytes()[0] {
        b'"' | b'\'' => {
            let (s, rest) = quoted(text)?;
            (Yaml::String(s), rest.strip_prefix(':')?)
        }
        b if is_indicator(b) => return None,
        _ => {
            let bytes = text.as_bytes();
            let colon = memchr::memchr_iter(b':', bytes)
                .find(|&i| bytes.get(i + 1).is_none_or(|&next| next == b' '))?;
            let name = &text[..colon];
            if name.contains(" #") {
                return None; // a comment before any colon: not a key
            }
            let name = name.trim_end_matches(' ');
            if name.len() > MAX_KEY {
                return None;
            }
            (resolve_plain(name)?, &text[colon + 1..])
        }
    };
    (rest.is_empty() || rest.starts_with(' ')).then_some((key, rest))
}

/// A plain scalar's text on its line: up to a comment, less trailing
/// spaces. `None` for a `: ` inside it, which would make it a key.
fn plain_value(text: &str) -> Option<&str> {
    let text = match text.find(" #") {
        Some(comment) => &text[..comment],
        None => text,
    };
    let text = text.trim_end_matches(' ');
    (!text.contains(": ") && !text.ends_with(':')).then_some(text)
}

/// The body of the quoted scalar `text` starts with (a `"` or a `'`), on
/// one line, and what follows its closing quote.
fn quoted(text: &str) -> Option<(String, &str)> {
    match text.as_bytes()[0] {
        b'"' => double_quoted(&text[1..]),
        _ => single_quoted(&text[1..]),
    }
}

/// The body of a double-quoted scalar on one line (`text` starts after the
/// opening quote) and what follows its closing quote. Escapes other than
/// the common ones go to the general parser.
fn double_quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let at = rest.find(['"', '\\'])?;
        out.push_str(&rest[..at]);
        if rest.as_bytes()[at] == b'"' {
            return Some((out, &rest[at + 1..]));
        }
        let escape = rest.as_bytes().get(at + 1)?;
        let mut used = 2;
        out.push(match escape {
            b'\\' => '\\',
            b'"' => '"',
            b'/' => '/',
            b' ' => ' ',
            b'0' => '\0',
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'x' | b'u' => {
                let digits = if *escape == b'x' { 2 } else { 4 };
                let hex = rest.get(at + 2..at + 2 + digits)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                used += digits;
                char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
            }
            _ => return None,
        });
        rest = &rest[at + used..];
    }
}

/// The body of a single-quoted scalar on one line (`text` starts after the
/// opening quote) and what follows its closing quote.
fn single_quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let at = memchr::memchr(b'\'', rest.as_bytes())?;
        out.push_str(&rest[..at]);
        if rest.as_bytes().get(at + 1) == Some(&b'\'') {
            out.push('\'');
            rest = &rest[at + 2..];
        } else {
            return Some((out, &rest[at + 1..]));
        }
    }
}

/// What a plain scalar means under the schema `yaml_serde` reads with:
/// null, a boolean, a decimal integer or float, else text. Other radixes,
/// integers past 64 bits and the special floats (`.inf`, `.nan`) go to the
/// general parser.
fn resolve_plain(text: &str) -> Option<Yaml> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Yaml::Null),
        "true" | "True" | "TRUE" => return Some(Yaml::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Yaml::Bool(false)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Some(Yaml::String(text.to_owned()));
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if ["0x", "0o", "0b"].iter().any(|p| unsigned.starts_with(p))
        || unsigned.starts_with('.') && unsigned[1..].starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return None;
    }
    // Leading zeros make digits text (YAML 1.2), with or without a sign.
    if unsigned.len() > 1
        && unsigned.starts_with('0')
        && unsigned.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(Yaml::String(text.to_owned()));
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return if text.starts_with('-') {
            text.parse::<i64>()
                .ok()
                .map(|n| Yaml::Number(Number::from(n)))
        } else {
            unsigned
                .parse::<u64>()
                .ok()
                .map(|n| Yaml::Number(Number::from(n)))
        };
    }
    // A float is read without a leading `+`, and a second sign makes text.
    let unplussed = text.strip_prefix('+').unwrap_or(text);
    if text.starts_with('+') && unplussed.starts_with(['+', '-']) {
        return Some(Yaml::String(text.to_owned()));
    }
    Some(match unplussed.parse::<f64>() {
        Ok(float) if float.is_finite() => Yaml::Number(Number::from(float)),
        _ => Yaml::String(text.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `yaml_serde` reads from `text`, if it reads one document.
    fn general(text: &str) -> Option<Yaml> {
        yaml_serde::from_str::<Yaml>(text).ok()
    }

    #[track_caller]
    fn same(text: &str) {
        let fast = parse(text).unwrap_or_else(|| panic!("not read:\n{text}"));
        assert_eq!(Some(fast), general(text), "\n{text}");
    }

    #[track_caller]
    fn left_to_general(text: &str) {
        assert_eq!(parse(text), None, "\n{text}");
    }

    /// The documents `yaml_serde` reads from `text`, or its error.
    fn general_documents(text: &str) -> Result<Vec<Yaml>, String> {
        use serde::Deserialize;
        yaml_serde::Deserializer::from_str(text)
            .map(|de| Yaml::deserialize(de).map_err(|e| e.to_string()))
            .collect()
    }

    /// Every YAML file of the shared corpora (SigmaHQ's rules, regression
    /// metadata, OTRF), the pack's rules and the fuzz corpus of hostile
    /// rule files: what this reader reads, the general parser reads the
    /// same; and it reads nearly all of SigmaHQ's rules.
    #[test]
    fn reads_corpus_files_as_the_general_parser_does() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let roots = [
            contraband_testkit::corpora(),
            repo.join("detections"),
            repo.join("fuzz/corpus/load_rules"),
        ];
        let (mut files, mut read, mut sigma_rules, mut sigma_read) = (0, 0, 0, 0);
        for root in roots {
            for entry in walkdir::WalkDir::new(&root)
                .into_iter()
                .filter_map(Result::ok)
            {
                let path = entry.path();
                let is_yaml = matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yml" | "yaml")
                );
                let in_fuzz_corpus = root.ends_with("load_rules");
                if !entry.file_type().is_file() || !(is_yaml || in_fuzz_corpus) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                files += 1;
                let rule = path.to_string_lossy().contains("/sigma/rules");
                sigma_rules += usize::from(rule);
                let Some(fast) = parse(&text) else { continue };
                read += 1;
                sigma_read += usize::from(rule);
                match general_documents(&text) {
                    Ok(docs) => assert_eq!(docs, [fast], "{}", path.display()),
                    Err(e) => panic!("{}: read, but the general parser says {e}", path.display()),
                }
            }
        }
        println!("read {read} of {files} files; {sigma_read} of {sigma_rules} SigmaHQ rules");
        assert!(
            sigma_rules > 3000,
            "corpus looks truncated: {sigma_rules} rules"
        );
        assert!(
            sigma_read * 100 >= sigma_rules * 95,
            "only {sigma_read} of {sigma_rules} SigmaHQ rules read without the general parser"
        );
    }

    /// Scalars as rules write them, and pieces of YAML that look like them.
    fn scalar() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let common = prop::sample::select(vec![
            "x",
            "two words",
            "0",
            "42",
            "-3",
            "+4",
            "1.5e3",
            ".5",
            "~",
            "null",
            "True",
            "no",
            "2024-01-01",
            "-x",
            "a:b",
            "x#y",
            "'q''s'",
            "\"d\\\"q\"",
            "\"\\u00e9\\x41\\t\"",
            "é",
            "C:\\Windows\\",
            "' -enc '",
            "''",
            "\"\"",
            "x # c",
        ]);
        let tricky = prop::sample::select(vec![
            "007",
            "1e999",
            "a: b",
            "'open",
            "\"\\e\"",
            "\"x\"y",
            "[a]",
            "{a: 1}",
            "&a x",
            "*a",
            "!t x",
            "|",
            ">-",
            "|+",
            "|2",
            "?",
            ":",
            "-",
            "#",
            "x:",
            "a ",
            "\"k\": v",
            "12345678901234567890123",
            "0x1f",
            ".inf",
            "-.5",
            "+-1",
            "- x",
        ]);
        let piece = prop_oneof![6 => common, 1 => tricky];
        prop::collection::vec(piece, 1..3).prop_map(|p| p.concat())
    }

    /// A document's shape, rendered as block YAML by [`render`].
    #[derive(Clone, Debug)]
    enum Node {
        Scalar(String),
        Block(Vec<String>),
        Map(Vec<(String, Node)>),
        Seq(Vec<Node>),
    }

    fn node() -> impl proptest::strategy::Strategy<Value = Node> {
        use proptest::prelude::*;
        // `#` stands for the entry's place, so that keys differ
        let key = prop::sample::select(vec![
            "a#",
            "k#|contains",
            "'q #'",
            "\"d#\"",
            "#",
            "x #y",
            "a:b#",
            "c#",
        ]);
        let block_line =
            prop::sample::select(vec!["text", "# not a comment", "", "  more", "x: y"]);
        let leaf = prop_oneof![
            4 => scalar().prop_map(Node::Scalar),
            1 => prop::collection::vec(block_line.prop_map(String::from), 1..4).prop_map(Node::Block),
        ];
        leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec((key.clone().prop_map(String::from), inner.clone()), 1..4)
                    .prop_map(Node::Map),
                prop::collection::vec(inner, 1..4).prop_map(Node::Seq),
            ]
        })
    }

    /// Renders `node` as the value after a key or dash at column `col`;
    /// `style` picks indentation steps, block headers, comments and where
    /// sequences sit, so that one shape comes out in many layouts.
    fn render(node: &Node, col: usize, style: &mut impl Iterator<Item = u8>, out: &mut String) {
        match node {
            Node::Scalar(s) => {
                out.push(' ');
                out.push_str(s);
                if pick(style, 4) == 0 {
                    out.push_str(" # c");
                }
                out.push('\n');
            }
            Node::Block(lines) => {
                out.push_str([" |", " >", " |-", " >-"][usize::from(pick(style, 4))]);
                out.push('\n');
                let indent = col + 1 + usize::from(pick(style, 3));
                for line in lines {
                    if !line.is_empty() {
                        out.push_str(&" ".repeat(indent));
                    }
                    out.push_str(line);
                    out.push('\n');
                }
            }
            Node::Map(entries) => {
                out.push('\n');
                let inner = col + 1 + usize::from(pick(style, 4));
                for (i, (key, value)) in entries.iter().enumerate() {
                    let key = key.replace('#', &i.to_string());
                    if pick(style, 6) == 0 {
                        out.push_str(&" ".repeat(usize::from(pick(style, 6))));
                        out.push_str("# comment\n");
                    }
                    out.push_str(&" ".repeat(inner));
                    out.push_str(&key);
                    out.push(':');
                    render(value, inner, style, out);
                }
            }
            Node::Seq(items) => {
                out.push('\n');
                // under a key, dashes may sit at the key's own column
                let dash = if pick(style, 3) == 0 {
                    col
                } else {
                    col + 1 + usize::from(pick(style, 3))
                };
                for item in items {
                    out.push_str(&" ".repeat(dash));
                    out.push('-');
                    render(item, dash, style, out);
                }
            }
        }
    }

    fn pick(style: &mut impl Iterator<Item = u8>, n: u8) -> u8 {
        style.next().unwrap_or(0) % n
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Whatever generated document this reader reads, the general
        /// parser reads to the same value; what the general parser
        /// rejects, this one leaves to it. The documents are rendered
        /// from shapes, then sometimes spoilt by moving or cutting a line.
        #[test]
        fn generated_documents_read_as_the_general_parser_reads_them(
            entries in proptest::collection::vec(node(), 1..4),
            style in proptest::collection::vec(proptest::num::u8::ANY, 64),
            spoil in proptest::option::of((proptest::num::usize::ANY, 0u8..3)),
        ) {
            let mut style = style.into_iter().cycle();
            let mut text = String::new();
            for (i, value) in entries.iter().enumerate() {
                text.push_str(&format!("key{i}:"));
                render(value, 0, &mut style, &mut text);
            }
            if let Some((at, how)) = spoil {
                let mut lines: Vec<String> = text.lines().map(String::from).collect();
                let i = at % lines.len();
                match how {
                    0 => lines[i].insert(0, ' '),
                    1 => { lines[i].pop(); }
                    _ => { lines[i] = lines[i].trim_start().to_string(); }
                }
                text = lines.join("\n");
            }
            if let Some(fast) = parse(&text) {
                proptest::prop_assert_eq!(general_documents(&text), Ok(vec![fast]), "{}", text);
            }
        }
    }

    #[test]
    fn reads_a_rule_shaped_document() {
        same(
            "title: Test # trailing comment\n\
             id: 1234-abcd\n\
             # a comment line\n\
             description: |\n    first line\n      indented more\n\n    after a blank\n\
             folded: >-\n  one\n  two\n\n  three\n\
             tags:\n    - attack.t1059\n    - 'quoted ''twice'''\n\
             logsource:\n  product: linux\n  category: process_creation\n\
             detection:\n  selection:\n    Image|endswith:\n    - /bin/sh\n    - \"\\\\x\\u00e9\"\n\
             \x20   CommandLine|contains|all: a\n  condition: selection\n",
        );
    }

    #[test]
    fn sequences_of_mappings_and_nested_sequences() {
        same("a:\n  - b: 1\n    c: -2\n  - - x\n    - y\n  -\n  - # c\n    k: v\n");
        same("a:\n- 1\n- 2.5\nb: ~\n");
    }

    #[test]
    fn scalars_resolve_as_the_general_parser_does() {
        for s in [
            "0",
            "007",
            "-007",
            "+7",
            "-7",
            "12345678901234567890",
            "1e3",
            "-1.5",
            "+1.5",
            ".5",
            "1.",
            "++1",
            "+-1",
            "1_000",
            "inf",
            "nan",
            "1e999",
            "2023-01-01",
            "2023/01/01",
            "True",
            "FALSE",
            "yes",
            "NULL",
            "~",
            "-",
            ".",
            "-.5",
            "0.0",
            "-0",
        ] {
            let doc = format!("k: {s}\n");
            match parse(&doc) {
                Some(v) => assert_eq!(Some(v), general(&doc), "{s}"),
                None => assert_eq!(s, "-", "left to the general parser"),
            }
        }
    }

    #[test]
    fn leaves_what_it_does_not_read_to_the_general_parser() {
        for text in [
            "a: [1, 2]\n",
            "a: {b: c}\n",
            "a: &x 1\nb: *x\n",
            "a: !tag x\n",
            "a: plain\n  continued\n",
            "a: 'open\n  quote'\n",
            "a: \"\\e\"\n",
            "---\na: 1\n",
            "a: 1\n---\nb: 2\n",
            "a:\tb\n",
            "a: b\r\n",
            "a: 1\na: 2\n",
            "- a\n",
            "a:\n    text under its key\n",
            "a: |+\n  keep\n\n",
            "a: |2\n    x\n",
            "a: |\n\n  leading blank\n",
            "a: b: c\n",
            "a: 'x'y\n",
            "  a: 1\n",
            "a:\n  b: 1\n c: 2\n",
            "",
        ] {
            left_to_general(text);
        }
    }
}

//! Sigma string values: wildcard parsing and their lowering to fast matchers.
//!
//! A rule's string is parsed once into [`Piece`]s (literal text, `*`, `?`),
//! then lowered to the cheapest [`StrMatcher`] that decides it: equality,
//! prefix, suffix, substring, an ordered `*`-glob, and a regex only when a
//! `?` or non-ASCII case folding needs one. Case folding happens here, at
//! compile time; matching never allocates.

use std::sync::OnceLock;

use memchr::memmem;
use regex::{Regex, RegexBuilder};
use regex_syntax::hir::Hir;

use crate::error::RuleError;
use crate::regex_literals::regex_literals;
use crate::Limits;

/// One element of a parsed Sigma string value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    Quest,
}

/// Parse a Sigma string: `*` and `?` are wildcards, `\*` `\?` `\\` escape
/// them, and a backslash before any other character is a literal backslash.
pub fn parse_wildcards(s: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    // Plain runs are copied whole: pushed a char at a time, a literal grew
    // through every size to its own (~70 M instructions of loading the
    // SigmaHQ corpus). The three special chars are ASCII, so every index
    // memchr finds is a char boundary.
    while let Some(at) = memchr::memchr3(b'\\', b'*', b'?', rest.as_bytes()) {
        lit.push_str(&rest[..at]);
        let special = rest.as_bytes()[at];
        rest = &rest[at + 1..];
        match special {
            b'\\' => match rest.as_bytes().first() {
                Some(&escaped @ (b'*' | b'?' | b'\\')) => {
                    lit.push(char::from(escaped));
                    rest = &rest[1..];
                }
                _ => lit.push('\\'),
            },
            _ => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                let p = if special == b'*' {
                    Piece::Star
                } else {
                    Piece::Quest
                };
                // Consecutive stars are one star.
                if !(p == Piece::Star && out.last() == Some(&Piece::Star)) {
                    out.push(p);
                }
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// A literal string as pieces (no wildcard interpretation).
pub fn literal(s: &str) -> Vec<Piece> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![Piece::Lit(s.to_string())]
    }
}

/// Surround with stars as `contains`/`startswith`/`endswith` ask.
pub fn wrap(mut pieces: Vec<Piece>, star_before: bool, star_after: bool) -> Vec<Piece> {
    if star_before && pieces.first() != Some(&Piece::Star) {
        pieces.insert(0, Piece::Star);
    }
    if star_after && pieces.last() != Some(&Piece::Star) {
        pieces.push(Piece::Star);
    }
    pieces
}

/// A compiled string test.
#[derive(Clone, Debug)]
pub enum StrMatcher {
    /// Matches every string (`*`).
    Any,
    Exact(Lit),
    Prefix(Lit),
    Suffix(Lit),
    Contains(Finder),
    /// `first*mid1*mid2*last` with only stars between literals.
    Glob {
        first: Option<Lit>,
        middle: Box<[Finder]>,
        last: Option<Lit>,
        /// Minimum length: sum of the literals.
        min_len: usize,
    },
    Regex(LazyRegex),
}

/// A literal compared with or without ASCII case folding (folded to lower
/// case at compile time when case-insensitive).
#[derive(Clone, Debug)]
pub struct Lit {
    pub text: Box<str>,
    pub ci: bool,
}

impl Lit {
    fn new(text: &str, ci: bool) -> Lit {
        let text = if ci {
            text.to_ascii_lowercase()
        } else {
            text.to_string()
        };
        Lit {
            text: text.into(),
            ci,
        }
    }
    #[inline]
    fn eq(&self, s: &[u8]) -> bool {
        let t = self.text.as_bytes();
        if self.ci {
            t.len() == s.len() && t.eq_ignore_ascii_case(s)
        } else {
            t == s
        }
    }
    #[inline]
    fn is_prefix_of(&self, s: &[u8]) -> bool {
        let t = self.text.as_bytes();
        s.len() >= t.len() && self.eq_bytes(&s[..t.len()])
    }
    #[inline]
    fn is_suffix_of(&self, s: &[u8]) -> bool {
        let t = self.text.as_bytes();
        s.len() >= t.len() && self.eq_bytes(&s[s.len() - t.len()..])
    }
    #[inline]
    fn eq_bytes(&self, s: &[u8]) -> bool {
        if self.ci {
            self.text.as_bytes().eq_ignore_ascii_case(s)
        } else {
            self.text.as_bytes() == s
        }
    }
    pub fn len(&self) -> usize {
        self.text.len()
    }
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// Substring search: memmem when case matters; otherwise a scan for the
/// needle's rarest byte (both cases, with memchr2) and a folded compare.
#[derive(Clone, Debug)]
pub enum Finder {
    Cased(Box<memmem::Finder<'static>>),
    Folded(FoldedFinder),
}

/// ASCII-case-insensitive single-needle search.
#[derive(Clone, Debug)]
pub struct FoldedFinder {
    /// Lower-cased needle.
    needle: Box<[u8]>,
    /// Offset in the needle of the byte we scan for.
    pos: usize,
    lo: u8,
    up: u8,
}

/// Rough commonness of a byte in command lines and paths (higher = more
/// common); used to pick the anchor byte to scan for.
fn commonness(b: u8) -> u8 {
    match b {
        b' ' => 250,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 220,
        b'a'..=b'z' => 180,
        b'\\' | b'/' | b'.' | b'-' | b':' | b'_' => 170,
        b'0'..=b'9' => 150,
        _ => 60,
    }
}

impl FoldedFinder {
    fn new(needle: &str) -> FoldedFinder {
        let needle: Box<[u8]> = needle.to_ascii_lowercase().into_bytes().into();
        let pos = (0..needle.len())
            .min_by_key(|&i| commonness(needle[i]))
            .unwrap_or(0);
        let lo = needle.get(pos).copied().unwrap_or(0);
        FoldedFinder {
            pos,
            lo,
            up: lo.to_ascii_uppercase(),
            needle,
        }
    }

    /// Start offset of the first occurrence.
    #[inline]
    pub fn find(&self, hay: &[u8]) -> Option<usize> {
        let n = self.needle.len();
        if n == 0 {
            return Some(0);
        }
        if hay.len() < n {
            return None;
        }
        // Only anchor positions that leave room for the whole needle.
        let window = &hay[self.pos..hay.len() - (n - 1 - self.pos)];
        for i in memchr::memchr2_iter(self.lo, self.up, window) {
            let start = i;
            if hay[start..start + n].eq_ignore_ascii_case(&self.needle) {
                return Some(start);
            }
        }
        None
    }
}

impl Finder {
    pub fn new(needle: &str, ci: bool) -> Result<Finder, RuleError> {
        if ci {
            Ok(Finder::Folded(FoldedFinder::new(needle)))
        } else {
            Ok(Finder::Cased(Box::new(
                memmem::Finder::new(needle.as_bytes()).into_owned(),
            )))
        }
    }
    /// The needle, lower-cased.
    pub fn needle_lowercase(&self) -> String {
        let b = match self {
            Finder::Cased(f) => f.needle(),
            Finder::Folded(f) => &f.needle,
        };
        String::from_utf8_lossy(b).to_ascii_lowercase()
    }

    /// End offset of the first occurrence in `hay`.
    #[inline]
    pub fn find_end(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Finder::Cased(f) => f.find(hay).map(|i| i + f.needle().len()),
            Finder::Folded(f) => f.find(hay).map(|i| i + f.needle.len()),
        }
    }
    #[inline]
    pub fn is_match(&self, hay: &[u8]) -> bool {
        match self {
            Finder::Cased(f) => f.find(hay).is_some(),
            Finder::Folded(f) => f.find(hay).is_some(),
        }
    }
}

/// True when ASCII case folding compares `s` exactly as full Unicode
/// folding would: every non-ASCII character is caseless (emoji, dashes, CJK).
pub fn folds_as_ascii(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_ascii()
            || (c.to_lowercase().eq(std::iter::once(c)) && c.to_uppercase().eq(std::iter::once(c)))
    })
}

fn needs_regex(pieces: &[Piece], ci: bool) -> bool {
    pieces.iter().any(|p| match p {
        Piece::Quest => true,
        // ASCII folding is exact unless a non-ASCII letter has case forms.
        Piece::Lit(s) => ci && !folds_as_ascii(s),
        Piece::Star => false,
    })
}

/// Render pieces as a regex, anchored only where no star stands at the end.
pub fn pieces_to_regex(pieces: &[Piece]) -> String {
    let mut re = String::new();
    let mut pieces = pieces;
    let open_start = pieces.first() == Some(&Piece::Star);
    let open_end = pieces.len() > 1 && pieces.last() == Some(&Piece::Star);
    if open_start {
        pieces = &pieces[1..];
    } else {
        re.push('^');
    }
    if open_end {
        pieces = &pieces[..pieces.len() - 1];
    }
    for p in pieces {
        match p {
            Piece::Lit(s) => re.push_str(&regex::escape(s)),
            Piece::Star => re.push_str("(?s:.*)"),
            Piece::Quest => re.push_str("(?s:.)"),
        }
    }
    if !open_end {
        re.push('$');
    }
    re
}

/// A rule's regex, checked when the rule loads and compiled when it is
/// first matched. Most loaded rules are never evaluated on a given input
/// (their logsource does not occur in it), and compiled regexes were the
/// biggest part of a loaded rule set and of its load time.
#[derive(Clone, Debug)]
pub struct LazyRegex {
    source: Box<RegexSource>,
    compiled: OnceLock<Option<Regex>>,
    /// Texts one of which every match contains (see
    /// [`crate::regex_literals`]), found when a prefilter first asks:
    /// finding them costs more than parsing, and only the rules of the
    /// logsources an input has are asked.
    literals: OnceLock<Option<Box<[String]>>>,
}

/// A regex as a rule wrote it, with the options it is built with.
#[derive(Clone, Debug)]
struct RegexSource {
    pattern: String,
    ci: bool,
    multi: bool,
    dot_all: bool,
    size_limit: usize,
    nest_limit: u32,
}

impl RegexSource {
    /// The pattern parsed, or why it does not parse.
    fn parse(&self) -> Result<Hir, String> {
        regex_syntax::ParserBuilder::new()
            .case_insensitive(self.ci)
            .multi_line(self.multi)
            .dot_matches_new_line(self.dot_all)
            .nest_limit(self.nest_limit)
            .build()
            .parse(&self.pattern)
            .map_err(|e| e.to_string())
    }

    fn build(&self) -> Result<Regex, regex::Error> {
        RegexBuilder::new(&self.pattern)
            .case_insensitive(self.ci)
            .multi_line(self.multi)
            .dot_matches_new_line(self.dot_all)
            .size_limit(self.size_limit)
            .dfa_size_limit(self.size_limit)
            .nest_limit(self.nest_limit)
            .build()
    }
}

impl LazyRegex {
    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        // `None` cannot happen: a pattern that could fail to compile (too
        // big) was compiled at load and rejected there.
        self.compiled
            .get_or_init(|| self.source.build().ok())
            .as_ref()
            .is_some_and(|r| r.is_match(s))
    }

    /// ASCII-lowercased texts one of which every match contains, if known.
    pub fn literals(&self) -> Option<&[String]> {
        self.literals
            .get_or_init(|| regex_literals(&self.source.parse().ok()?))
            .as_deref()
    }
}

pub fn build_regex(
    pattern: &str,
    ci: bool,
    multi: bool,
    dot_all: bool,
    limits: &Limits,
) -> Result<LazyRegex, RuleError> {
    let error = |reason: String| RuleError::Regex {
        pattern: truncate(pattern, 200),
        reason,
    };
    let source = RegexSource {
        pattern: pattern.to_string(),
        ci,
        multi,
        dot_all,
        size_limit: limits.regex_size,
        nest_limit: limits.regex_nest,
    };
    let hir = source.parse().map_err(error)?;
    let compiled = OnceLock::new();
    if state_estimate(&hir) > LAZY_MAX_STATES {
        let re = source.build().map_err(|e| error(e.to_string()))?;
        let _ = compiled.set(Some(re));
    }
    Ok(LazyRegex {
        source: Box::new(source),
        compiled,
        literals: OnceLock::new(),
    })
}

/// Past this estimate of a regex's compiled states it is compiled at load,
/// where exceeding [`Limits::regex_size`] is reported as the rule's error.
/// A state costs at least 8 bytes, so below this the real size is orders
/// of magnitude under the default limit of 10 MiB.
const LAZY_MAX_STATES: u64 = 20_000;

/// A rough upper bound of the NFA states `hir` compiles to: each byte of
/// a literal one, a class four per range (UTF-8 sequences), a bounded
/// repetition its body times its maximum.
fn state_estimate(hir: &Hir) -> u64 {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(l) => l.0.len() as u64,
        HirKind::Class(Class::Unicode(c)) => 4 * c.ranges().len() as u64,
        HirKind::Class(Class::Bytes(c)) => c.ranges().len() as u64,
        HirKind::Repetition(r) => {
            let times = u64::from(r.max.unwrap_or(r.min.saturating_add(1)).max(1));
            state_estimate(&r.sub).saturating_mul(times)
        }
        HirKind::Capture(c) => state_estimate(&c.sub).saturating_add(2),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => {
            parts.iter().fold(parts.len() as u64, |n, p| {
                n.saturating_add(state_estimate(p))
            })
        }
    }
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl StrMatcher {
    /// Lower wildcard pieces to the cheapest matcher.
    pub fn compile(pieces: &[Piece], ci: bool, limits: &Limits) -> Result<StrMatcher, RuleError> {
        if needs_regex(pieces, ci) {
            return Ok(StrMatcher::Regex(build_regex(
                &pieces_to_regex(pieces),
                ci,
                false,
                false,
                limits,
            )?));
        }
        let lits: Vec<&str> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Lit(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let starts_star = pieces.first() == Some(&Piece::Star);
        let ends_star = pieces.last() == Some(&Piece::Star);
        Ok(match (lits.len(), starts_star, ends_star) {
            (0, false, false) => StrMatcher::Exact(Lit::new("", ci)),
            (0, _, _) => StrMatcher::Any,
            (1, false, false) => StrMatcher::Exact(Lit::new(lits[0], ci)),
            (1, false, true) => StrMatcher::Prefix(Lit::new(lits[0], ci)),
            (1, true, false) => StrMatcher::Suffix(Lit::new(lits[0], ci)),
            (1, true, true) => StrMatcher::Contains(Finder::new(lits[0], ci)?),
            _ => {
                let mut lits = lits.as_slice();
                let first = if !starts_star {
                    let f = Lit::new(lits[0], ci);
                    lits = &lits[1..];
                    Some(f)
                } else {
                    None
                };
                let last = if !ends_star {
                    let l = Lit::new(lits[lits.len() - 1], ci);
                    lits = &lits[..lits.len() - 1];
                    Some(l)
                } else {
                    None
                };
                let middle = lits
                    .iter()
                    .map(|s| Finder::new(s, ci))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_boxed_slice();
                let min_len = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Lit(s) => s.len(),
                        _ => 0,
                    })
                    .sum();
                StrMatcher::Glob {
                    first,
                    middle,
                    last,
                    min_len,
                }
            }
        })
    }

    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        let b = s.as_bytes();
        match self {
            StrMatcher::Any => true,
            StrMatcher::Exact(l) => l.eq(b),
            StrMatcher::Prefix(l) => l.is_prefix_of(b),
            StrMatcher::Suffix(l) => l.is_suffix_of(b),
            StrMatcher::Contains(f) => f.is_match(b),
            StrMatcher::Glob {
                first,
                middle,
                last,
                min_len,
            } => {
                if b.len() < *min_len {
                    return false;
                }
                let mut start = 0;
                let mut end = b.len();
                if let Some(f) = first {
                    if !f.is_prefix_of(b) {
                        return false;
                    }
                    start = f.len();
                }
                if let Some(l) = last {
                    if !l.is_suffix_of(&b[start..]) {
                        return false;
                    }
                    end = b.len() - l.len();
                }
                // Leftmost placement of each middle literal is optimal for
                // star-only globs.
                for m in middle.iter() {
                    match m.find_end(&b[start..end]) {
                        Some(e) => start += e,
                        None => return false,
                    }
                }
                true
            }
            StrMatcher::Regex(r) => r.is_match(s),
        }
    }

    /// The literal this matcher reduces to when it is a pure substring test
    /// (used to merge OR-ed `contains` values into one automaton).
    pub fn contains_literal(pieces: &[Piece]) -> Option<&str> {
        match pieces {
            [Piece::Star, Piece::Lit(s), Piece::Star] => Some(s),
            _ => None,
        }
    }
}

/// Reference matcher used by tests: naive backtracking over characters.
#[cfg(test)]
pub fn naive_match(pieces: &[Piece], s: &str, ci: bool) -> bool {
    fn go(p: &[Piece], s: &[char], ci: bool) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(Piece::Star) => (0..=s.len()).any(|i| go(&p[1..], &s[i..], ci)),
            Some(Piece::Quest) => !s.is_empty() && go(&p[1..], &s[1..], ci),
            Some(Piece::Lit(l)) => {
                let l: Vec<char> = l.chars().collect();
                if s.len() < l.len() {
                    return false;
                }
                let ok = l.iter().zip(s).all(|(a, b)| {
                    if ci {
                        a.to_lowercase().eq(b.to_lowercase())
                    } else {
                        a == b
                    }
                });
                ok && go(&p[1..], &s[l.len()..], ci)
            }
        }
    }
    let chars: Vec<char> = s.chars().collect();
    go(pieces, &chars, ci)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_regexes_compile_on_first_use_big_ones_at_load() {
        let limits = Limits::default();
        let re = build_regex("^/usr/bin/(ba)?sh$", true, false, false, &limits).unwrap();
        assert!(re.compiled.get().is_none(), "compiled before use");
        assert!(re.is_match("/USR/BIN/BASH") && !re.is_match("/usr/bin/zsh"));
        assert!(re.compiled.get().is_some_and(Option::is_some));

        let big = "x{25000}";
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(big)
            .unwrap();
        assert!(state_estimate(&hir) > LAZY_MAX_STATES);
        let re = build_regex(big, false, false, false, &limits).unwrap();
        assert!(re.compiled.get().is_some_and(Option::is_some));
        // syntax errors are still load errors
        assert!(build_regex("a(b", false, false, false, &limits).is_err());
    }
    use proptest::prelude::*;

    fn m(pat: &str, ci: bool) -> StrMatcher {
        StrMatcher::compile(&parse_wildcards(pat), ci, &Limits::default()).unwrap()
    }

    #[test]
    fn escapes() {
        assert_eq!(parse_wildcards(r"a\*b"), vec![Piece::Lit("a*b".into())]);
        assert_eq!(parse_wildcards(r"a\?b"), vec![Piece::Lit("a?b".into())]);
        assert_eq!(
            parse_wildcards(r"a\\*"),
            vec![Piece::Lit("a\\".into()), Piece::Star]
        );
        assert_eq!(
            parse_wildcards(r"C:\Windows\*"),
            vec![Piece::Lit("C:\\Windows*".into())]
        );
        assert_eq!(
            parse_wildcards(r"C:\Windows\x"),
            vec![Piece::Lit("C:\\Windows\\x".into())]
        );
        assert_eq!(
            parse_wildcards("a**b"),
            vec![Piece::Lit("a".into()), Piece::Star, Piece::Lit("b".into())]
        );
        assert!(m(r"a\*b", true).is_match("A*B"));
        assert!(!m(r"a\*b", true).is_match("axb"));
        assert!(m(r"a\?", true).is_match("a?"));
        assert!(!m(r"a\?", true).is_match("ab"));
    }

    #[test]
    fn lowering_picks_fast_paths() {
        assert!(matches!(m("abc", true), StrMatcher::Exact(_)));
        assert!(matches!(m("abc*", true), StrMatcher::Prefix(_)));
        assert!(matches!(m("*abc", true), StrMatcher::Suffix(_)));
        assert!(matches!(m("*abc*", true), StrMatcher::Contains(_)));
        assert!(matches!(m("a*b*c", true), StrMatcher::Glob { .. }));
        assert!(matches!(m("a?c", true), StrMatcher::Regex(_)));
        assert!(matches!(m("*", true), StrMatcher::Any));
    }

    #[test]
    fn case_folding() {
        assert!(m("CMD.EXE", true).is_match("cmd.exe"));
        assert!(!m("CMD.EXE", false).is_match("cmd.exe"));
        assert!(m("*\\Cmd.exe", true).is_match("C:\\WINDOWS\\CMD.EXE"));
        assert!(m("ÄBC", true).is_match("äbc"));
        assert!(m("/etc/*.conf", true).is_match("/etc/foo.conf"));
        assert!(!m("/etc/*.conf", true).is_match("/etc/foo.confx"));
        assert!(m("a*a", true).is_match("aa"));
        assert!(!m("a*a", true).is_match("a"));
        assert!(m("", true).is_match(""));
        assert!(!m("", true).is_match("x"));
    }

    fn piece_strategy() -> impl Strategy<Value = Vec<Piece>> {
        prop::collection::vec(
            prop_oneof![
                "[abAB]{1,3}".prop_map(Piece::Lit),
                Just(Piece::Star),
                Just(Piece::Quest),
            ],
            0..6,
        )
        .prop_map(|v| {
            // Normalise the way the parser does: merge literals and stars.
            let mut out: Vec<Piece> = Vec::new();
            for p in v {
                match (out.last_mut(), p) {
                    (Some(Piece::Lit(a)), Piece::Lit(b)) => a.push_str(&b),
                    (Some(Piece::Star), Piece::Star) => {}
                    (_, p) => out.push(p),
                }
            }
            out
        })
    }

    /// The definition, a char at a time: what `parse_wildcards` must do.
    fn wildcards_by_char(s: &str) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        let mut lit = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        lit.push(n);
                        chars.next();
                    }
                    _ => lit.push('\\'),
                },
                '*' | '?' => {
                    if !lit.is_empty() {
                        out.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    let p = if c == '*' { Piece::Star } else { Piece::Quest };
                    if !(p == Piece::Star && out.last() == Some(&Piece::Star)) {
                        out.push(p);
                    }
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            out.push(Piece::Lit(lit));
        }
        out
    }

    proptest! {
        #[test]
        fn wildcards_parse_as_defined(s in "[ab\\\\*?é]{0,24}") {
            prop_assert_eq!(parse_wildcards(&s), wildcards_by_char(&s));
        }

        #[test]
        fn wildcard_matches_naive_reference(pieces in piece_strategy(), s in "[abAB]{0,8}", ci in any::<bool>()) {
            let m = StrMatcher::compile(&pieces, ci, &Limits::default()).unwrap();
            prop_assert_eq!(m.is_match(&s), naive_match(&pieces, &s, ci));
        }
    }
}

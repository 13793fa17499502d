//! Detection sections → a tree of [`Node`]s with every value pre-lowered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use contraband_event::{parse_time, Event, Value, ValueRef};
use ipnet::IpNet;
use yaml_serde::Value as Yaml;

use crate::condition::{ident_matches, parse_condition, Cond, ConditionError, Target};
use crate::error::RuleError;
use crate::field_memo::{FieldReader, UNNUMBERED};
use crate::pattern::{build_regex, literal, parse_wildcards, wrap, Piece, StrMatcher};
use crate::scalar_text::with_text;
use crate::Limits;

/// Comparison operators for `lt`/`lte`/`gt`/`gte` and time parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
}

impl Cmp {
    #[inline]
    pub fn test(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Cmp::Lt => lhs < rhs,
            Cmp::Lte => lhs <= rhs,
            Cmp::Gt => lhs > rhs,
            Cmp::Gte => lhs >= rhs,
            Cmp::Eq => lhs == rhs,
        }
    }
}

/// Part of a timestamp extracted by the time modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// How a `fieldref` compares the two fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// One test on one value of a field.
#[derive(Clone, Debug)]
pub enum VTest {
    Str(StrMatcher),
    Num {
        op: Cmp,
        rhs: f64,
    },
    Cidr(IpNet),
    FieldRef {
        other: Box<str>,
        kind: RefKind,
        ci: bool,
    },
    Time {
        part: TimePart,
        op: Cmp,
        rhs: f64,
    },
    /// Field-level: absent or null.
    Null,
    /// Field-level: present (true) or absent (false).
    Exists(bool),
}

/// OR-ed plain substring needles merged into one automaton, built on first
/// use: most rules of a large set are never evaluated (wrong logsource, or
/// ruled out by the prefilter), and building the automata of the whole
/// SigmaHQ corpus up front was ~40% of its load time.
#[derive(Clone, Debug)]
pub struct AnyOf {
    ac: std::sync::OnceLock<Option<AhoCorasick>>,
    /// The needles as written (case kept for `|cased`).
    patterns: Box<[Box<str>]>,
    cased: bool,
    /// The needles, lower-cased (for prefilters).
    pub needles: Box<[Box<str>]>,
}

impl AnyOf {
    fn new(patterns: Vec<String>, cased: bool) -> AnyOf {
        let needles = patterns
            .iter()
            .map(|n| n.to_ascii_lowercase().into())
            .collect();
        AnyOf {
            ac: std::sync::OnceLock::new(),
            patterns: patterns.into_iter().map(Box::from).collect(),
            cased,
            needles,
        }
    }

    /// Does any needle occur in `s` (ASCII case-insensitively unless cased)?
    pub fn is_match(&self, s: &str) -> bool {
        let ac = self.ac.get_or_init(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(!self.cased)
                .match_kind(MatchKind::LeftmostFirst)
                .build(self.patterns.iter().map(|p| p.as_bytes()))
                .ok()
        });
        match ac {
            Some(ac) => ac.is_match(s),
            // The automaton could not be built (size limits): search each
            // needle on its own, with the same semantics.
            None if self.cased => self.patterns.iter().any(|p| s.contains(&**p)),
            None => {
                let hay = s.as_bytes();
                self.needles.iter().any(|n| {
                    let n = n.as_bytes();
                    n.is_empty() || hay.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
                })
            }
        }
    }
}

/// A field with its tests: OR over tests by default, AND with `|all`.
#[derive(Clone, Debug)]
pub struct FieldTest {
    pub field: Box<str>,
    /// The field's number in its rule set (see [`crate::field_memo`]).
    pub number: u32,
    pub tests: Box<[VTest]>,
    /// OR-ed plain `contains` literals merged into one automaton.
    pub any_contains: Option<AnyOf>,
    pub all: bool,
    /// `neq`: the item holds when the value tests do not.
    pub negate: bool,
}

/// A field-less (keyword) search over every scalar of the event.
#[derive(Clone, Debug)]
pub struct KeywordTest {
    pub tests: Box<[VTest]>,
    pub any_contains: Option<AnyOf>,
    pub all: bool,
}

/// A compiled detection tree.
#[derive(Clone, Debug)]
pub enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Const(bool),
    Field(Box<FieldTest>),
    Keyword(Box<KeywordTest>),
}

/// Compile-time context.
pub(crate) struct Ctx<'a> {
    pub limits: &'a Limits,
    pub placeholders: &'a HashMap<String, Vec<String>>,
    /// Names of fields the rule reads, collected while compiling.
    pub fields: Vec<String>,
    pub uses_keywords: bool,
    /// Non-fatal remarks for the load report.
    pub warnings: Vec<String>,
}

// ---------------------------------------------------------------------------
// Modifiers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Eq,
    Contains,
    Starts,
    Ends,
    Re,
    Cidr,
    Cmp(Cmp),
    Exists,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Enc {
    Utf16Le,
    Utf16Be,
    Utf16Bom,
    Base64,
    Base64Offset,
}

#[derive(Debug, Default)]
struct Mods {
    kind: Option<Kind>,
    all: bool,
    cased: bool,
    neq: bool,
    windash: bool,
    expand: bool,
    fieldref: bool,
    re_i: bool,
    re_m: bool,
    re_s: bool,
    enc: Vec<Enc>,
    time: Option<TimePart>,
}

fn parse_mods(key: &str, mods: &[&str]) -> Result<Mods, RuleError> {
    let mut m = Mods::default();
    let bad = |reason: String| RuleError::BadModifiers {
        key: key.to_string(),
        reason,
    };
    let set_kind = |m: &mut Mods, k: Kind| -> Result<(), RuleError> {
        if let Some(prev) = m.kind {
            if prev != k {
                return Err(bad(format!("conflicting modifiers {prev:?} and {k:?}")));
            }
        }
        m.kind = Some(k);
        Ok(())
    };
    for &raw in mods {
        match raw {
            "contains" => set_kind(&mut m, Kind::Contains)?,
            "startswith" => set_kind(&mut m, Kind::Starts)?,
            "endswith" => set_kind(&mut m, Kind::Ends)?,
            "re" => set_kind(&mut m, Kind::Re)?,
            "cidr" => set_kind(&mut m, Kind::Cidr)?,
            "exists" => set_kind(&mut m, Kind::Exists)?,
            "lt" => set_kind(&mut m, Kind::Cmp(Cmp::Lt))?,
            "lte" => set_kind(&mut m, Kind::Cmp(Cmp::Lte))?,
            "gt" => set_kind(&mut m, Kind::Cmp(Cmp::Gt))?,
            "gte" => set_kind(&mut m, Kind::Cmp(Cmp::Gte))?,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "neq" => m.neq = true,
            "windash" => m.windash = true,
            "expand" => m.expand = true,
            "fieldref" => m.fieldref = true,
            "i" | "ignorecase" => m.re_i = true,
            "m" | "multiline" => m.re_m = true,
            "s" | "dotall" => m.re_s = true,
            "wide" | "utf16le" => m.enc.push(Enc::Utf16Le),
            "utf16be" => m.enc.push(Enc::Utf16Be),
            "utf16" => m.enc.push(Enc::Utf16Bom),
            "base64" => m.enc.push(Enc::Base64),
            "base64offset" => m.enc.push(Enc::Base64Offset),
            "minute" => m.time = Some(TimePart::Minute),
            "hour" => m.time = Some(TimePart::Hour),
            "day" => m.time = Some(TimePart::Day),
            "week" => m.time = Some(TimePart::Week),
            "month" => m.time = Some(TimePart::Month),
            "year" => m.time = Some(TimePart::Year),
            other => {
                return Err(RuleError::UnknownModifier {
                    key: key.to_string(),
                    modifier: other.to_string(),
                })
            }
        }
    }
    if (m.re_i || m.re_m || m.re_s) && m.kind != Some(Kind::Re) {
        return Err(bad("regex flags `i`/`m`/`s` need `re`".into()));
    }
    let has_b64 = m
        .enc
        .iter()
        .any(|e| matches!(e, Enc::Base64 | Enc::Base64Offset));
    let has_utf16 = m
        .enc
        .iter()
        .any(|e| matches!(e, Enc::Utf16Le | Enc::Utf16Be | Enc::Utf16Bom));
    if has_utf16 && !has_b64 {
        return Err(bad("utf16/wide encodings produce bytes that only `base64`/`base64offset` can turn into text".into()));
    }
    if !m.enc.is_empty() {
        if let Some(k @ (Kind::Re | Kind::Cidr | Kind::Cmp(_) | Kind::Exists)) = m.kind {
            return Err(bad(format!("encoding modifiers cannot combine with {k:?}")));
        }
        // Encoders must come before base64 in the chain.
        if let Some(pos) = m
            .enc
            .iter()
            .position(|e| matches!(e, Enc::Base64 | Enc::Base64Offset))
        {
            if pos + 1 != m.enc.len() {
                return Err(bad(
                    "`base64`/`base64offset` must be the last encoding".into()
                ));
            }
        }
    }
    if m.fieldref {
        if let Some(k @ (Kind::Re | Kind::Cidr | Kind::Cmp(_) | Kind::Exists)) = m.kind {
            return Err(bad(format!("`fieldref` cannot combine with {k:?}")));
        }
    }
    if m.time.is_some() {
        if let Some(
            k @ (Kind::Contains | Kind::Starts | Kind::Ends | Kind::Re | Kind::Cidr | Kind::Exists),
        ) = m.kind
        {
            return Err(bad(format!("time modifiers cannot combine with {k:?}")));
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// Values

/// A rule value as text, or null.
fn scalar_text(v: &Yaml, key: &str) -> Result<Option<String>, RuleError> {
    match v {
        Yaml::Null => Ok(None),
        Yaml::Bool(b) => Ok(Some(b.to_string())),
        Yaml::Number(n) => Ok(Some(n.to_string())),
        Yaml::String(s) => Ok(Some(s.clone())),
        Yaml::Sequence(_) => Err(RuleError::invalid(key, "nested list as a value")),
        Yaml::Mapping(_) => Err(RuleError::invalid(
            key,
            "a mapping where a value was expected",
        )),
        Yaml::Tagged(_) => Err(RuleError::invalid(key, "tagged YAML value")),
    }
}

fn yaml_values<'v>(v: &'v Yaml, key: &str, limits: &Limits) -> Result<Vec<&'v Yaml>, RuleError> {
    match v {
        Yaml::Sequence(items) => {
            if items.len() > limits.max_values {
                return Err(RuleError::Limit(format!(
                    "`{key}` has {} values (max {})",
                    items.len(),
                    limits.max_values
                )));
            }
            if items.is_empty() {
                return Err(RuleError::invalid(key, "empty list of values"));
            }
            Ok(items.iter().collect())
        }
        v => Ok(vec![v]),
    }
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Every spelling of a Windows command-line flag: each `-` or `/` that starts
/// a word becomes each dash variant.
fn windash(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let positions: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            (chars[i] == '-' || chars[i] == '/')
                && (i == 0 || !word(chars[i - 1]))
                && chars.get(i + 1).is_some_and(|&c| word(c))
        })
        .collect();
    if positions.is_empty() {
        return vec![s.to_string()];
    }
    let mut out = Vec::new();
    if positions.len() <= 2 {
        // Every combination.
        let n = DASHES.len().pow(positions.len() as u32);
        for mut k in 0..n {
            let mut c = chars.clone();
            for &p in &positions {
                c[p] = DASHES[k % DASHES.len()];
                k /= DASHES.len();
            }
            out.push(c.into_iter().collect());
        }
    } else {
        // The same dash everywhere keeps the count bounded.
        for d in DASHES {
            let mut c = chars.clone();
            for &p in &positions {
                c[p] = d;
            }
            out.push(c.into_iter().collect());
        }
    }
    out
}

fn expand_placeholders(s: &str, ctx: &Ctx, limit: usize) -> Result<Vec<String>, RuleError> {
    let mut out = vec![String::new()];
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        let prefix = &rest[..start];
        let values = ctx
            .placeholders
            .get(name)
            .ok_or_else(|| RuleError::Placeholder(name.to_string()))?;
        let mut next = Vec::new();
        for o in &out {
            for v in values {
                next.push(format!("{o}{prefix}{v}"));
            }
        }
        if next.len() > limit {
            return Err(RuleError::Limit(format!(
                "placeholder expansion yields more than {limit} values"
            )));
        }
        out = next;
        rest = &rest[start + 2 + len..];
    }
    for o in &mut out {
        o.push_str(rest);
    }
    Ok(out)
}

fn encode(s: &str, enc: &[Enc]) -> Vec<String> {
    let mut bytes = s.as_bytes().to_vec();
    for e in enc {
        match e {
            Enc::Utf16Le => {
                bytes = String::from_utf8_lossy(&bytes)
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect()
            }
            Enc::Utf16Be => {
                bytes = String::from_utf8_lossy(&bytes)
                    .encode_utf16()
                    .flat_map(u16::to_be_bytes)
                    .collect()
            }
            Enc::Utf16Bom => {
                let mut b = vec![0xFF, 0xFE];
                b.extend(
                    String::from_utf8_lossy(&bytes)
                        .encode_utf16()
                        .flat_map(u16::to_le_bytes),
                );
                bytes = b;
            }
            Enc::Base64 => return vec![base64::engine::general_purpose::STANDARD.encode(&bytes)],
            Enc::Base64Offset => {
                let mut out = Vec::new();
                for shift in 0..3usize {
                    let mut b = vec![0u8; shift];
                    b.extend_from_slice(&bytes);
                    let enc = base64::engine::general_purpose::STANDARD.encode(&b);
                    // Drop the characters that depend on bytes outside the value.
                    let start = [0, 2, 3][shift];
                    let end_trim = [0, 3, 2][(bytes.len() + shift) % 3];
                    if enc.len() >= start + end_trim {
                        let piece = &enc[start..enc.len() - end_trim];
                        if !piece.is_empty() {
                            out.push(piece.to_string());
                        }
                    }
                }
                return out;
            }
        }
    }
    vec![String::from_utf8_lossy(&bytes).into_owned()]
}

fn number_of(text: &str, key: &str) -> Result<f64, RuleError> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| RuleError::invalid(key, format!("`{text}` is not a number")))
}

/// Compile the tests of one detection item (`field|mods: values`).
fn compile_tests(
    key: &str,
    mods: &Mods,
    value: &Yaml,
    ctx: &mut Ctx,
) -> Result<Vec<VTest>, RuleError> {
    let limits = ctx.limits;
    let mut tests = Vec::new();
    let kind = mods.kind.unwrap_or(Kind::Eq);
    if kind == Kind::Exists {
        let b = match value {
            Yaml::Bool(b) => *b,
            Yaml::String(s) if s.eq_ignore_ascii_case("true") => true,
            Yaml::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Err(RuleError::invalid(key, "`exists` needs `true` or `false`")),
        };
        return Ok(vec![VTest::Exists(b)]);
    }
    for v in yaml_values(value, key, limits)? {
        let Some(text) = scalar_text(v, key)? else {
            tests.push(VTest::Null);
            continue;
        };
        let texts = if mods.expand {
            expand_placeholders(&text, ctx, limits.max_values)?
        } else {
            vec![text]
        };
        for text in texts {
            if mods.fieldref {
                let rk = match kind {
                    Kind::Contains => RefKind::Contains,
                    Kind::Starts => RefKind::StartsWith,
                    Kind::Ends => RefKind::EndsWith,
                    _ => RefKind::Equals,
                };
                ctx.fields.push(text.clone());
                tests.push(VTest::FieldRef {
                    other: text.into(),
                    kind: rk,
                    ci: !mods.cased,
                });
                continue;
            }
            if let Some(part) = mods.time {
                let op = match kind {
                    Kind::Cmp(op) => op,
                    _ => Cmp::Eq,
                };
                tests.push(VTest::Time {
                    part,
                    op,
                    rhs: number_of(&text, key)?,
                });
                continue;
            }
            match kind {
                Kind::Cmp(op) => tests.push(VTest::Num {
                    op,
                    rhs: number_of(&text, key)?,
                }),
                Kind::Cidr => {
                    let t = text.trim();
                    let net = t
                        .parse::<IpNet>()
                        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            RuleError::invalid(key, format!("`{t}` is not a CIDR network"))
                        })?;
                    tests.push(VTest::Cidr(net));
                }
                Kind::Re => {
                    if text.len() > limits.max_pattern_len {
                        return Err(RuleError::Limit(format!(
                            "regex in `{key}` longer than {}",
                            limits.max_pattern_len
                        )));
                    }
                    let ci = mods.re_i;
                    tests.push(VTest::Str(StrMatcher::Regex(build_regex(
                        &text, ci, mods.re_m, mods.re_s, limits,
                    )?)));
                }
                Kind::Eq | Kind::Contains | Kind::Starts | Kind::Ends => {
                    let variants = if mods.windash {
                        windash(&text)
                    } else {
                        vec![text]
                    };
                    for t in variants {
                        let (pieces_list, ci) = if mods.enc.is_empty() {
                            (vec![parse_wildcards(&t)], !mods.cased)
                        } else {
                            // Encoded text is literal and base64 is case-sensitive.
                            (
                                encode(&t, &mods.enc).iter().map(|s| literal(s)).collect(),
                                false,
                            )
                        };
                        let offset = mods.enc.contains(&Enc::Base64Offset);
                        for pieces in pieces_list {
                            if pieces
                                .iter()
                                .map(|p| if let Piece::Lit(s) = p { s.len() } else { 1 })
                                .sum::<usize>()
                                > limits.max_pattern_len
                            {
                                return Err(RuleError::Limit(format!(
                                    "value in `{key}` longer than {}",
                                    limits.max_pattern_len
                                )));
                            }
                            let pieces = match kind {
                                Kind::Contains => wrap(pieces, true, true),
                                Kind::Starts => wrap(pieces, false, true),
                                Kind::Ends => wrap(pieces, true, false),
                                _ if offset => wrap(pieces, true, true),
                                _ => pieces,
                            };
                            tests.push(VTest::Str(StrMatcher::compile(&pieces, ci, limits)?));
                        }
                    }
                }
                Kind::Exists => unreachable!(),
            }
        }
    }
    if tests.len() > limits.max_values {
        return Err(RuleError::Limit(format!(
            "`{key}` expands to {} values (max {})",
            tests.len(),
            limits.max_values
        )));
    }
    Ok(tests)
}

/// Compile one `field|mods: values` item.
fn compile_item(key: &str, value: &Yaml, ctx: &mut Ctx) -> Result<Node, RuleError> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("");
    let mod_names: Vec<&str> = parts.collect();
    if mod_names.len() > 16 {
        return Err(RuleError::Limit(format!(
            "`{key}` has more than 16 modifiers"
        )));
    }
    let mods = parse_mods(key, &mod_names)?;
    // Gather literal contains needles for merging before compiling.
    let merge = !mods.all
        && matches!(mods.kind, Some(Kind::Contains) | None)
        && mods.enc.is_empty()
        && !mods.fieldref
        && mods.time.is_none();
    // `|all` with a modifier that turns one value into alternatives
    // (windash, base64offset, expand): AND over values, OR within each.
    if mods.all {
        if let Yaml::Sequence(items) = value {
            let per_value = items
                .iter()
                .map(|v| compile_tests(key, &mods, v, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            if per_value.iter().any(|t| t.len() > 1) {
                if field.is_empty() {
                    ctx.uses_keywords = true;
                } else {
                    ctx.fields.push(field.to_string());
                }
                let nodes: Vec<Node> = per_value
                    .into_iter()
                    .map(|tests| {
                        if field.is_empty() {
                            Node::Keyword(Box::new(KeywordTest {
                                tests: tests.into(),
                                any_contains: None,
                                all: false,
                            }))
                        } else {
                            Node::Field(Box::new(FieldTest {
                                field: field.into(),
                                number: UNNUMBERED,
                                tests: tests.into(),
                                any_contains: None,
                                all: false,
                                negate: false,
                            }))
                        }
                    })
                    .collect();
                let node = and(nodes);
                return Ok(if mods.neq {
                    Node::Not(Box::new(node))
                } else {
                    node
                });
            }
        }
    }
    let tests = compile_tests(key, &mods, value, ctx)?;
    let (tests, any_contains) = if merge {
        split_contains(key, &mods, value, tests, ctx)?
    } else {
        (tests, None)
    };
    if field.is_empty() {
        if mods.neq || mods.fieldref || mods.kind == Some(Kind::Exists) {
            return Err(RuleError::invalid(
                key,
                "keyword searches take no `neq`/`fieldref`/`exists`",
            ));
        }
        ctx.uses_keywords = true;
        return Ok(Node::Keyword(Box::new(KeywordTest {
            tests: tests.into(),
            any_contains,
            all: mods.all,
        })));
    }
    ctx.fields.push(field.to_string());
    Ok(Node::Field(Box::new(FieldTest {
        field: field.into(),
        number: UNNUMBERED,
        tests: tests.into(),
        any_contains,
        all: mods.all,
        negate: mods.neq,
    })))
}

/// For an OR-ed `contains` list: put every value that is a plain literal
/// into one automaton; keep the rest as individual tests.
fn split_contains(
    key: &str,
    mods: &Mods,
    value: &Yaml,
    tests: Vec<VTest>,
    ctx: &Ctx,
) -> Result<(Vec<VTest>, Option<AnyOf>), RuleError> {
    // Re-derive the literal needles from the source values: the compiled
    // matchers keep only their automata.
    let mut needles = Vec::new();
    let mut all_plain = true;
    for v in yaml_values(value, key, ctx.limits)? {
        let Some(text) = scalar_text(v, key)? else {
            all_plain = false;
            continue;
        };
        let texts = if mods.expand {
            expand_placeholders(&text, ctx, ctx.limits.max_values)?
        } else {
            vec![text]
        };
        for t in texts {
            let variants = if mods.windash { windash(&t) } else { vec![t] };
            for t in variants {
                let pieces = if mods.kind == Some(Kind::Contains) {
                    wrap(parse_wildcards(&t), true, true)
                } else {
                    parse_wildcards(&t)
                };
                match StrMatcher::contains_literal(&pieces) {
                    Some(lit) if mods.cased || crate::pattern::folds_as_ascii(lit) => {
                        needles.push(lit.to_string())
                    }
                    _ => all_plain = false,
                }
            }
        }
    }
    if !all_plain || needles.len() < 2 {
        return Ok((tests, None));
    }
    let rest: Vec<VTest> = tests
        .into_iter()
        .filter(|t| !matches!(t, VTest::Str(StrMatcher::Contains(_))))
        .collect();
    Ok((rest, Some(AnyOf::new(needles, mods.cased))))
}

/// Compile one search identifier's body.
fn compile_search(name: &str, v: &Yaml, ctx: &mut Ctx, depth: usize) -> Result<Node, RuleError> {
    if depth > ctx.limits.max_depth {
        return Err(RuleError::Limit(format!(
            "search `{name}` nests deeper than {}",
            ctx.limits.max_depth
        )));
    }
    match v {
        Yaml::Mapping(map) => {
            if map.is_empty() {
                return Err(RuleError::invalid(name, "empty selection"));
            }
            let mut items = Vec::with_capacity(map.len());
            for (k, val) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    _ => return Err(RuleError::invalid(name, "non-scalar key in selection")),
                };
                items.push(compile_item(&key, val, ctx)?);
            }
            Ok(and(items))
        }
        Yaml::Sequence(seq) => {
            if seq.is_empty() {
                return Err(RuleError::invalid(name, "empty list"));
            }
            if seq.len() > ctx.limits.max_values {
                return Err(RuleError::Limit(format!(
                    "`{name}` has {} entries (max {})",
                    seq.len(),
                    ctx.limits.max_values
                )));
            }
            let scalars = seq
                .iter()
                .all(|x| !matches!(x, Yaml::Mapping(_) | Yaml::Sequence(_)));
            if scalars {
                // A keyword list: substring searches.
                return compile_item("", &keywordize(v), ctx);
            }
            let mut alts = Vec::with_capacity(seq.len());
            for x in seq {
                alts.push(compile_search(name, x, ctx, depth + 1)?);
            }
            Ok(or(alts))
        }
        Yaml::String(_) | Yaml::Number(_) | Yaml::Bool(_) => compile_item("", &keywordize(v), ctx),
        Yaml::Null => Err(RuleError::invalid(name, "search is empty (null)")),
        Yaml::Tagged(_) => Err(RuleError::invalid(name, "tagged YAML value")),
    }
}

/// Rough evaluation cost, used to try cheap branches first.
fn cost(n: &Node) -> u32 {
    fn tests(ts: &[VTest], ac: &Option<AnyOf>) -> u32 {
        let t: u32 = ts
            .iter()
            .map(|t| match t {
                VTest::Str(StrMatcher::Any | StrMatcher::Exact(_)) => 1,
                VTest::Str(StrMatcher::Prefix(_) | StrMatcher::Suffix(_)) => 2,
                VTest::Str(StrMatcher::Contains(_)) => 4,
                VTest::Str(StrMatcher::Glob { .. }) => 6,
                VTest::Str(StrMatcher::Regex(_)) => 25,
                VTest::Num { .. } | VTest::Null | VTest::Exists(_) => 1,
                VTest::Cidr(_) => 5,
                VTest::FieldRef { .. } => 10,
                VTest::Time { .. } => 40,
            })
            .sum();
        t + if ac.is_some() { 6 } else { 0 }
    }
    match n {
        Node::And(xs) | Node::Or(xs) => xs.iter().map(cost).fold(0u32, u32::saturating_add),
        Node::Not(x) => cost(x),
        Node::Const(_) => 0,
        Node::Field(f) => 8u32.saturating_add(tests(&f.tests, &f.any_contains)),
        Node::Keyword(k) => {
            200u32.saturating_add(tests(&k.tests, &k.any_contains).saturating_mul(8))
        }
    }
}

/// Order siblings cheapest first; AND/OR are commutative for pure tests.
fn by_cost(items: &mut [Node]) {
    items.sort_by_cached_key(cost);
}

fn and(mut items: Vec<Node>) -> Node {
    by_cost(&mut items);
    if items.len() == 1 {
        items.pop().unwrap()
    } else {
        Node::And(items.into())
    }
}

fn or(mut items: Vec<Node>) -> Node {
    by_cost(&mut items);
    if items.len() == 1 {
        items.pop().unwrap()
    } else {
        Node::Or(items.into())
    }
}

/// Keyword values are substring searches: wrap plain keyword strings in
/// stars before compiling.
fn keywordize(v: &Yaml) -> Yaml {
    match v {
        Yaml::String(s) => Yaml::String(wrap_str(s)),
        Yaml::Number(n) => Yaml::String(wrap_str(&n.to_string())),
        Yaml::Bool(b) => Yaml::String(wrap_str(&b.to_string())),
        Yaml::Sequence(seq) => Yaml::Sequence(seq.iter().map(keywordize).collect()),
        other => other.clone(),
    }
}

fn wrap_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    if !s.starts_with('*') {
        out.push('*');
    }
    out.push_str(s);
    if !s.ends_with('*') || s.ends_with("\\*") {
        out.push('*');
    }
    out
}

/// Compile a whole `detection:` mapping.
pub(crate) fn compile_detection(det: &Yaml, ctx: &mut Ctx) -> Result<Node, RuleError> {
    let Yaml::Mapping(map) = det else {
        return Err(RuleError::invalid("detection", "must be a mapping"));
    };
    let mut searches: Vec<(String, Node)> = Vec::new();
    let mut condition: Option<&Yaml> = None;
    for (k, v) in map {
        let Yaml::String(name) = k else {
            return Err(RuleError::invalid(
                "detection",
                "search identifiers must be strings",
            ));
        };
        match name.as_str() {
            "condition" => condition = Some(v),
            "timeframe" => ctx.warnings.push(
                "`detection.timeframe` is ignored (Sigma v1 aggregation; use a correlation rule)"
                    .into(),
            ),
            _ => {
                let node = match v {
                    // Keyword searches: a list of scalars or a bare scalar.
                    Yaml::Sequence(seq)
                        if seq
                            .iter()
                            .all(|x| !matches!(x, Yaml::Mapping(_) | Yaml::Sequence(_))) =>
                    {
                        compile_search(name, &keywordize(v), ctx, 0)?
                    }
                    Yaml::String(_) | Yaml::Number(_) | Yaml::Bool(_) => {
                        compile_search(name, &keywordize(v), ctx, 0)?
                    }
                    Yaml::Mapping(m) => {
                        // `'|all': [...]`-style keyword items keep their modifiers
                        // but are substring searches unless stated otherwise.
                        let mut m2 = m.clone();
                        for (mk, mv) in m2.iter_mut() {
                            if let Yaml::String(ks) = mk {
                                // Only plain keyword items (modifiers that
                                // keep equality semantics) become substring
                                // searches; `|startswith`, `|re` … keep theirs.
                                if ks.starts_with('|')
                                    && ks[1..]
                                        .split('|')
                                        .all(|m| matches!(m, "all" | "cased" | "windash"))
                                {
                                    *mv = keywordize(mv);
                                }
                            }
                        }
                        compile_search(name, &Yaml::Mapping(m2), ctx, 0)?
                    }
                    _ => compile_search(name, v, ctx, 0)?,
                };
                searches.push((name.clone(), node));
            }
        }
    }
    let condition = condition.ok_or(RuleError::Missing("detection.condition"))?;
    let conds: Vec<String> = match condition {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Sequence(items) => items
            .iter()
            .map(|i| match i {
                Yaml::String(s) => Ok(s.clone()),
                _ => Err(RuleError::invalid(
                    "condition",
                    "list items must be strings",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(RuleError::invalid("condition", "must be a string")),
    };
    if conds.is_empty() {
        return Err(RuleError::invalid("condition", "empty list"));
    }
    let weighted: Vec<(String, Node, usize)> = searches
        .into_iter()
        .map(|(n, node)| {
            let w = weight(&node);
            (n, node, w)
        })
        .collect();
    let mut builder = Builder {
        searches: &weighted,
        budget: ctx.limits.max_values.saturating_mul(10),
    };
    let mut nodes = Vec::new();
    for c in &conds {
        let cond = parse_condition(c, ctx.limits.max_depth)?;
        nodes.push(builder.build(&cond)?);
    }
    Ok(or(nodes))
}

/// Number of value tests in a tree, to bound copies made by conditions
/// that reference large searches many times.
fn weight(n: &Node) -> usize {
    match n {
        Node::And(xs) | Node::Or(xs) => xs.iter().map(weight).sum::<usize>() + 1,
        Node::Not(x) => weight(x) + 1,
        Node::Const(_) => 1,
        Node::Field(f) => f.tests.len() + 1,
        Node::Keyword(k) => k.tests.len() + 1,
    }
}

/// Searches by name with their weights, and the remaining copy budget.
struct Builder<'a> {
    searches: &'a [(String, Node, usize)],
    budget: usize,
}

impl Builder<'_> {
    fn take(&mut self, node: &Node, w: usize) -> Result<Node, RuleError> {
        self.budget = self.budget.checked_sub(w).ok_or_else(|| {
            RuleError::Limit(
                "the condition copies its searches into more than the allowed number of tests"
                    .into(),
            )
        })?;
        Ok(node.clone())
    }

    fn build(&mut self, c: &Cond) -> Result<Node, RuleError> {
        Ok(match c {
            Cond::Ident(name) => {
                let (_, node, w) = self
                    .searches
                    .iter()
                    .find(|(n, _, _)| n == name)
                    .ok_or_else(|| ConditionError::UnknownIdent(name.clone()))?;
                self.take(node, *w)?
            }
            Cond::Quant { all, target } => {
                let mut picked = Vec::new();
                for (n, node, w) in self.searches.iter() {
                    let hit = match target {
                        Target::Them => !n.starts_with('_'),
                        Target::Pattern(p) => ident_matches(p, n),
                    };
                    if hit {
                        picked.push(self.take(node, *w)?);
                    }
                }
                if picked.is_empty() {
                    return Err(ConditionError::EmptyPattern(match target {
                        Target::Them => "them".into(),
                        Target::Pattern(p) => p.clone(),
                    })
                    .into());
                }
                if *all {
                    and(picked)
                } else {
                    or(picked)
                }
            }
            Cond::Not(inner) => Node::Not(Box::new(self.build(inner)?)),
            Cond::And(cs) => and(cs.iter().map(|c| self.build(c)).collect::<Result<_, _>>()?),
            Cond::Or(cs) => or(cs.iter().map(|c| self.build(c)).collect::<Result<_, _>>()?),
        })
    }
}

// ---------------------------------------------------------------------------
// Prefilter literals

const MAX_PREFILTER_LITERALS: usize = 4096;

/// Texts (ASCII-lowercased) one of which every value `m` matches holds.
fn str_literals(m: &StrMatcher) -> Option<Vec<String>> {
    let lit = match m {
        StrMatcher::Exact(l) | StrMatcher::Prefix(l) | StrMatcher::Suffix(l) => {
            l.text.to_ascii_lowercase()
        }
        StrMatcher::Contains(f) => f.needle_lowercase(),
        StrMatcher::Glob {
            first,
            middle,
            last,
            ..
        } => {
            let mut best = String::new();
            for cand in first
                .iter()
                .map(|l| l.text.to_ascii_lowercase())
                .chain(middle.iter().map(|f| f.needle_lowercase()))
                .chain(last.iter().map(|l| l.text.to_ascii_lowercase()))
            {
                if cand.len() > best.len() {
                    best = cand;
                }
            }
            best
        }
        StrMatcher::Regex(r) => return r.literals().map(<[String]>::to_vec),
        StrMatcher::Any => return None,
    };
    (!lit.is_empty()).then(|| vec![lit])
}

fn tests_literals(tests: &[VTest], any: &Option<AnyOf>, all: bool) -> Option<Vec<String>> {
    let per_test = |t: &VTest| match t {
        VTest::Str(m) => str_literals(m),
        _ => None,
    };
    if all {
        // Every test must hold: the best single test's literals suffice.
        return tests
            .iter()
            .filter_map(per_test)
            .max_by_key(|ls| ls.iter().map(String::len).min().unwrap_or(0));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tests.iter() {
        out.extend(per_test(t)?);
    }
    if let Some(a) = any {
        out.extend(a.needles.iter().map(|n| n.to_string()));
    }
    (!out.is_empty() && out.len() <= MAX_PREFILTER_LITERALS).then_some(out)
}

/// A prefilter literal and the field whose text must hold it (`None`: any).
pub type FieldLiteral<'a> = (Option<&'a str>, String);

impl Node {
    /// Literals (lower-cased) of which at least one occurs, ASCII
    /// case-insensitively, in the text of some field value of every event
    /// this node matches (numbers and booleans rendered as text). `None`
    /// when no such set is known (negations, regexes, numeric tests …).
    /// This is the basis for a shared multi-rule prefilter.
    pub fn required_literals(&self) -> Option<Vec<String>> {
        self.required_literals_by_field()
            .map(|ls| ls.into_iter().map(|(_, l)| l).collect())
    }

    /// [`Node::required_literals`], each with the field whose value must
    /// hold it (`None`: any field, for keyword searches). A literal taken
    /// from a field's test can only be in that field's text.
    pub fn required_literals_by_field(&self) -> Option<Vec<FieldLiteral<'_>>> {
        fn tag(field: Option<&str>, ls: Vec<String>) -> Vec<FieldLiteral<'_>> {
            ls.into_iter().map(|l| (field, l)).collect()
        }
        match self {
            Node::Field(f) if !f.negate => {
                tests_literals(&f.tests, &f.any_contains, f.all).map(|ls| tag(Some(&f.field), ls))
            }
            Node::Keyword(k) => {
                tests_literals(&k.tests, &k.any_contains, k.all).map(|ls| tag(None, ls))
            }
            Node::And(xs) => xs
                .iter()
                .filter_map(Node::required_literals_by_field)
                // Prefer the set whose shortest literal is longest.
                .max_by_key(|ls| ls.iter().map(|(_, l)| l.len()).min().unwrap_or(0)),
            Node::Or(xs) => {
                let mut out = Vec::new();
                for x in xs.iter() {
                    out.extend(x.required_literals_by_field()?);
                    if out.len() > MAX_PREFILTER_LITERALS {
                        return None;
                    }
                }
                Some(out)
            }
            _ => None,
        }
    }
}

impl Node {
    /// Every field name this tree tests (into `out`); true when it also has
    /// keyword searches, which read every scalar of the event. The values
    /// of these fields are all the text [`Node::required_literals`] can
    /// have come from.
    pub fn tested_fields<'a>(&'a self, out: &mut Vec<&'a str>) -> bool {
        match self {
            Node::And(xs) | Node::Or(xs) => {
                let mut kw = false;
                for x in xs.iter() {
                    kw |= x.tested_fields(out);
                }
                kw
            }
            Node::Not(x) => x.tested_fields(out),
            Node::Const(_) => false,
            Node::Field(f) => {
                out.push(&f.field);
                false
            }
            Node::Keyword(_) => true,
        }
    }
}

// ---------------------------------------------------------------------------
// Evaluation

fn as_number(v: ValueRef<'_>) -> Option<f64> {
    if let Some(s) = v.as_str() {
        let t = s.trim();
        if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            return i64::from_str_radix(hex, 16).ok().map(|x| x as f64);
        }
        return t.parse().ok();
    }
    match v.as_json()? {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(*b as u8 as f64),
        _ => None,
    }
}

fn time_part(v: ValueRef<'_>, part: TimePart) -> Option<f64> {
    let ts = match (v.as_str(), v.as_json()) {
        (Some(s), _) => parse_time(s).ok()?,
        (None, Some(Value::Number(n))) => parse_time(&n.to_string()).ok()?,
        _ => return None,
    };
    let t = jiff::Timestamp::from_nanosecond(ts.0 as i128)
        .ok()?
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    Some(match part {
        TimePart::Minute => t.minute() as f64,
        TimePart::Hour => t.hour() as f64,
        TimePart::Day => t.day() as f64,
        TimePart::Week => t.date().iso_week_date().week() as f64,
        TimePart::Month => t.month() as f64,
        TimePart::Year => t.year() as f64,
    })
}

fn ref_cmp(a: &str, b: &str, kind: RefKind, ci: bool) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let eq = |x: &[u8], y: &[u8]| {
        if ci {
            x.eq_ignore_ascii_case(y)
        } else {
            x == y
        }
    };
    match kind {
        RefKind::Equals => eq(a, b),
        RefKind::StartsWith => a.len() >= b.len() && eq(&a[..b.len()], b),
        RefKind::EndsWith => a.len() >= b.len() && eq(&a[a.len() - b.len()..], b),
        RefKind::Contains => {
            b.is_empty() || (a.len() >= b.len() && a.windows(b.len()).any(|w| eq(w, b)))
        }
    }
}

/// Does value-level test `t` hold for value `v` of an event?
#[inline]
fn value_test(t: &VTest, v: ValueRef<'_>, event: &Event) -> bool {
    match t {
        VTest::Str(m) => with_text(v, |s| m.is_match(s)).unwrap_or(false),
        VTest::Num { op, rhs } => as_number(v).is_some_and(|x| op.test(x, *rhs)),
        VTest::Cidr(net) => v
            .as_str()
            .is_some_and(|s| s.trim().parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip))),
        VTest::Time { part, op, rhs } => time_part(v, *part).is_some_and(|x| op.test(x, *rhs)),
        VTest::FieldRef { other, kind, ci } => {
            let mut hit = false;
            let _ = event.visit(other, &mut |o| {
                let r = with_text(v, |a| {
                    with_text(o, |b| ref_cmp(a, b, *kind, *ci)).unwrap_or(false)
                })
                .unwrap_or(false);
                if r {
                    hit = true;
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            hit
        }
        VTest::Null | VTest::Exists(_) => false,
    }
}

#[inline]
fn ac_hit(ac: &Option<AnyOf>, v: ValueRef<'_>) -> bool {
    match ac {
        Some(any) => with_text(v, |s| any.is_match(s)).unwrap_or(false),
        None => false,
    }
}

/// Field-level test (null / exists) given what the visit saw.
fn field_level(t: &VTest, seen_value: bool, seen_null: bool) -> Option<bool> {
    match t {
        VTest::Null => Some(!seen_value || seen_null),
        VTest::Exists(want) => Some(seen_value == *want),
        _ => None,
    }
}

fn is_nullish(v: ValueRef<'_>) -> bool {
    match v.as_json() {
        Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn eval_field(ft: &FieldTest, r: &mut FieldReader<'_, '_>) -> bool {
    let hit = if ft.all {
        ft.tests
            .iter()
            .all(|t| field_any(ft, std::slice::from_ref(t), &None, r))
    } else {
        field_any(ft, &ft.tests, &ft.any_contains, r)
    };
    hit != ft.negate
}

/// True when any of `tests` (or the automaton) holds for the field `ft` tests.
fn field_any(
    ft: &FieldTest,
    tests: &[VTest],
    ac: &Option<AnyOf>,
    r: &mut FieldReader<'_, '_>,
) -> bool {
    let mut seen_value = false;
    let mut seen_null = false;
    let mut hit = false;
    let event = r.event;
    let _ = r.each(&ft.field, ft.number, |v| {
        if is_nullish(v) {
            seen_null = true;
            return ControlFlow::Continue(());
        }
        seen_value = true;
        if ac_hit(ac, v) || tests.iter().any(|t| value_test(t, v, event)) {
            hit = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    if hit {
        return true;
    }
    tests
        .iter()
        .any(|t| field_level(t, seen_value, seen_null) == Some(true))
}

fn keyword_any(tests: &[VTest], ac: &Option<AnyOf>, event: &Event) -> bool {
    let mut hit = false;
    let _ = event.for_each_scalar(&mut |v| {
        if ac_hit(ac, v) || tests.iter().any(|t| value_test(t, v, event)) {
            hit = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    hit
}

impl Node {
    /// Evaluate against an event.
    pub fn eval(&self, event: &Event) -> bool {
        self.eval_in(&mut FieldReader::direct(event))
    }

    /// Evaluate against the event `r` reads.
    pub(crate) fn eval_in(&self, r: &mut FieldReader<'_, '_>) -> bool {
        let event = r.event;
        match self {
            Node::And(xs) => xs.iter().all(|x| x.eval_in(r)),
            Node::Or(xs) => xs.iter().any(|x| x.eval_in(r)),
            Node::Not(x) => !x.eval_in(r),
            Node::Const(b) => *b,
            Node::Field(ft) => eval_field(ft, r),
            Node::Keyword(kt) => {
                if kt.all {
                    kt.tests
                        .iter()
                        .all(|t| keyword_any(std::slice::from_ref(t), &None, event))
                } else {
                    keyword_any(&kt.tests, &kt.any_contains, event)
                }
            }
        }
    }

    /// Calls `f` on every field test in the tree.
    pub(crate) fn for_each_field_mut(&mut self, f: &mut dyn FnMut(&mut FieldTest)) {
        match self {
            Node::And(xs) | Node::Or(xs) => xs.iter_mut().for_each(|x| x.for_each_field_mut(f)),
            Node::Not(x) => x.for_each_field_mut(f),
            Node::Field(ft) => f(ft),
            Node::Const(_) | Node::Keyword(_) => {}
        }
    }

    /// Collect the (field, value) pairs that made positive branches true.
    /// Call only on a node true for `event`.
    pub(crate) fn collect(&self, event: &Event, out: &mut Vec<(String, Value)>) {
        match self {
            // A true `and` has only true branches: not evaluated again.
            Node::And(xs) => xs.iter().for_each(|x| x.collect(event, out)),
            Node::Or(xs) => {
                for x in xs.iter() {
                    if x.eval(event) {
                        x.collect(event, out);
                    }
                }
            }
            Node::Not(_) | Node::Const(_) => {}
            Node::Field(ft) => {
                if ft.negate {
                    return;
                }
                // The first value passing `tests` (or holding one of `ac`'s words).
                let mut first_passing = |tests: &[VTest], ac: &Option<AnyOf>| {
                    let _ = event.visit(&ft.field, &mut |v| {
                        if !is_nullish(v)
                            && (ac_hit(ac, v) || tests.iter().any(|t| value_test(t, v, event)))
                        {
                            let pair = (ft.field.to_string(), v.to_value());
                            if !out.contains(&pair) {
                                out.push(pair);
                            }
                            return ControlFlow::Break(());
                        }
                        ControlFlow::Continue(())
                    });
                };
                // `|all`: a value for each test; otherwise for any of them.
                if ft.all {
                    for test in ft.tests.iter() {
                        first_passing(std::slice::from_ref(test), &None);
                    }
                } else {
                    first_passing(&ft.tests, &ft.any_contains);
                }
            }
            Node::Keyword(kt) => {
                for (name, root) in event.fields.refs() {
                    let _ = contraband_event::visit_strings(root, &mut |v| {
                        let hit = ac_hit(&kt.any_contains, v)
                            || kt.tests.iter().any(|t| value_test(t, v, event));
                        if hit {
                            let pair = (name.to_string(), v.to_value());
                            if !out.contains(&pair) {
                                out.push(pair);
                            }
                            return ControlFlow::Break(());
                        }
                        ControlFlow::Continue(())
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windash_variants() {
        let v = windash("-enc ");
        assert_eq!(v.len(), 5);
        assert!(v.contains(&"/enc ".to_string()));
        assert!(v.contains(&"\u{2015}enc ".to_string()));
        assert_eq!(windash("a-b"), vec!["a-b".to_string()]);
        assert_eq!(windash(" -a -b").len(), 25);
    }

    #[test]
    fn base64offset_variants() {
        // Well-known encodings of "http://" at the three offsets.
        let v = encode("http://", &[Enc::Base64Offset]);
        assert_eq!(v, vec!["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]);
        assert_eq!(encode("abc", &[Enc::Base64]), vec!["YWJj"]);
        assert_eq!(encode("ab", &[Enc::Utf16Le, Enc::Base64]), vec!["YQBiAA=="]);
    }
}

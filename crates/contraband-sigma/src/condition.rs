//! The Sigma condition language: a tokenizer and a precedence-climbing
//! parser (`not` binds tighter than `and`, which binds tighter than `or`).

use std::fmt;

/// A parsed condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// A search identifier.
    Ident(String),
    /// `1 of target` / `all of target`.
    Quant {
        all: bool,
        target: Target,
    },
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// What a quantifier ranges over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every search identifier not starting with `_`.
    Them,
    /// Identifiers matching a `*` pattern.
    Pattern(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("unexpected character {ch:?} at offset {at}")]
    BadChar { ch: char, at: usize },
    #[error("unexpected {found} at offset {at}, expected {expected}")]
    Unexpected {
        found: String,
        at: usize,
        expected: &'static str,
    },
    #[error("unexpected end of condition, expected {0}")]
    UnexpectedEnd(&'static str),
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    #[error("condition longer than {0} bytes")]
    TooLong(usize),
    #[error("aggregation expressions (`| count() ...`) are deprecated Sigma v1 syntax; use a correlation rule")]
    Aggregation,
    #[error("quantifier `{0} of` is not supported (only `1 of` and `all of`)")]
    BadQuantifier(String),
    #[error("unknown search identifier `{0}`")]
    UnknownIdent(String),
    #[error("`{0}` matches no search identifier")]
    EmptyPattern(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    Them,
    Word(String),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
            Tok::And => f.write_str("`and`"),
            Tok::Or => f.write_str("`or`"),
            Tok::Not => f.write_str("`not`"),
            Tok::Of => f.write_str("`of`"),
            Tok::Them => f.write_str("`them`"),
            Tok::Word(w) => write!(f, "`{w}`"),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '*' | '?' | '-' | '.' | '$' | '@')
}

fn tokenize(s: &str) -> Result<Vec<(Tok, usize)>, ConditionError> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push((Tok::LParen, i)),
            ')' => out.push((Tok::RParen, i)),
            '|' => return Err(ConditionError::Aggregation),
            c if is_word_char(c) => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = it.peek() {
                    if !is_word_char(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    it.next();
                }
                let w = &s[i..end];
                let tok = match w.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "of" => Tok::Of,
                    "them" => Tok::Them,
                    _ => Tok::Word(w.to_string()),
                };
                out.push((tok, i));
            }
            ch => return Err(ConditionError::BadChar { ch, at: i }),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    max_depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn unexpected(&self, expected: &'static str) -> ConditionError {
        match self.toks.get(self.pos) {
            Some((t, at)) => ConditionError::Unexpected {
                found: t.to_string(),
                at: *at,
                expected,
            },
            None => ConditionError::UnexpectedEnd(expected),
        }
    }
    fn enter(&mut self) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(ConditionError::TooDeep(self.max_depth));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Cond, ConditionError> {
        self.enter()?;
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, ConditionError> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, ConditionError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, ConditionError> {
        let Some((tok, _)) = self.toks.get(self.pos).cloned() else {
            return Err(ConditionError::UnexpectedEnd(
                "an identifier, `(`, `not` or a quantifier",
            ));
        };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.unexpected("`)`"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Tok::Word(w) => {
                self.pos += 1;
                if self.peek() == Some(&Tok::Of) {
                    self.pos += 1;
                    let all = match w.to_ascii_lowercase().as_str() {
                        "1" | "any" => false,
                        "all" => true,
                        _ => return Err(ConditionError::BadQuantifier(w)),
                    };
                    let target = match self.toks.get(self.pos).cloned() {
                        Some((Tok::Them, _)) => Target::Them,
                        Some((Tok::Word(p), _)) => Target::Pattern(p),
                        _ => return Err(self.unexpected("`them` or an identifier pattern")),
                    };
                    self.pos += 1;
                    return Ok(Cond::Quant { all, target });
                }
                Ok(Cond::Ident(w))
            }
            _ => Err(self.unexpected("an identifier, `(`, `not` or a quantifier")),
        }
    }
}

/// Parse a condition string.
pub fn parse_condition(s: &str, max_depth: usize) -> Result<Cond, ConditionError> {
    const MAX_LEN: usize = 64 * 1024;
    if s.len() > MAX_LEN {
        return Err(ConditionError::TooLong(MAX_LEN));
    }
    let toks = tokenize(s)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        max_depth,
    };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(p.unexpected("`and`, `or` or the end"));
    }
    Ok(c)
}

/// Does identifier `name` match a quantifier pattern (`*` and `?` wildcards,
/// case-sensitive as identifiers are)?
///
/// Greedy with one backtrack point (the last `*`): O(pattern × name) at
/// worst. Trying every split at every `*` recursively was exponential in
/// the number of stars, so a hostile `1 of *a*a*a…c` hung rule loading.
pub fn ident_matches(pattern: &str, name: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // After the last `*` seen: where the pattern resumes, and the name
    // position that `*` currently stops at.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                star = Some((pi, si));
            }
            Some(&c) if c == b'?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more byte and retry.
                Some((resume, stop)) => {
                    pi = resume;
                    si = stop + 1;
                    star = Some((resume, stop + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

impl fmt::Display for Cond {
    /// Fully parenthesised rendering.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Ident(i) => f.write_str(i),
            Cond::Quant { all, target } => {
                f.write_str(if *all { "all of " } else { "1 of " })?;
                match target {
                    Target::Them => f.write_str("them"),
                    Target::Pattern(p) => f.write_str(p),
                }
            }
            Cond::Not(c) => write!(f, "not ({c})"),
            Cond::And(cs) | Cond::Or(cs) => {
                let op = if matches!(self, Cond::And(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    write!(f, "({c})")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> Cond {
        Cond::Ident(s.into())
    }
    fn p(s: &str) -> Cond {
        parse_condition(s, 64).unwrap()
    }

    #[test]
    fn precedence() {
        assert_eq!(
            p("a or b and c"),
            Cond::Or(vec![id("a"), Cond::And(vec![id("b"), id("c")])])
        );
        assert_eq!(
            p("not a and b"),
            Cond::And(vec![Cond::Not(Box::new(id("a"))), id("b")])
        );
        assert_eq!(
            p("a and not b or c"),
            Cond::Or(vec![
                Cond::And(vec![id("a"), Cond::Not(Box::new(id("b")))]),
                id("c")
            ])
        );
        assert_eq!(
            p("(a or b) and c"),
            Cond::And(vec![Cond::Or(vec![id("a"), id("b")]), id("c")])
        );
        assert_eq!(
            p("not not a"),
            Cond::Not(Box::new(Cond::Not(Box::new(id("a")))))
        );
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            p("1 of sel*"),
            Cond::Quant {
                all: false,
                target: Target::Pattern("sel*".into())
            }
        );
        assert_eq!(
            p("all of them"),
            Cond::Quant {
                all: true,
                target: Target::Them
            }
        );
        assert_eq!(
            p("sel and not 1 of filter_*"),
            Cond::And(vec![
                id("sel"),
                Cond::Not(Box::new(Cond::Quant {
                    all: false,
                    target: Target::Pattern("filter_*".into())
                }))
            ])
        );
        assert!(matches!(
            parse_condition("2 of them", 64),
            Err(ConditionError::BadQuantifier(_))
        ));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_condition("sel | count() > 5", 64),
            Err(ConditionError::Aggregation)
        ));
        assert!(matches!(
            parse_condition("a and", 64),
            Err(ConditionError::UnexpectedEnd(_))
        ));
        assert!(matches!(
            parse_condition("(a", 64),
            Err(ConditionError::UnexpectedEnd(_))
        ));
        assert!(matches!(
            parse_condition("a b", 64),
            Err(ConditionError::Unexpected { .. })
        ));
        assert!(matches!(
            parse_condition("a # b", 64),
            Err(ConditionError::BadChar { .. })
        ));
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(matches!(
            parse_condition(&deep, 64),
            Err(ConditionError::TooDeep(64))
        ));
        let nots = format!("{}a", "not ".repeat(10_000));
        assert!(matches!(
            parse_condition(&nots, 64),
            Err(ConditionError::TooDeep(64))
        ));
    }

    #[test]
    fn ident_patterns() {
        assert!(ident_matches("sel*", "selection"));
        assert!(ident_matches("*", "x"));
        assert!(!ident_matches("sel*", "filter"));
        assert!(ident_matches("a?c", "abc"));
        assert!(ident_matches("*sel*_?", "my_selection_1"));
        assert!(ident_matches("a*b*", "ab"));
        assert!(!ident_matches("a*b?", "ab"));
        assert!(!ident_matches("", "a"));
        assert!(ident_matches("**", ""));
        // Many stars against a long near-miss: was exponential (minutes).
        let started = std::time::Instant::now();
        assert!(!ident_matches(
            &format!("{}c", "*a".repeat(40)),
            &"a".repeat(200)
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    // Evaluate over an assignment of identifiers a..e.
    fn eval(c: &Cond, env: &[bool; 5]) -> bool {
        match c {
            Cond::Ident(i) => env[(i.as_bytes()[0] - b'a') as usize],
            Cond::Quant { .. } => unreachable!(),
            Cond::Not(c) => !eval(c, env),
            Cond::And(cs) => cs.iter().all(|c| eval(c, env)),
            Cond::Or(cs) => cs.iter().any(|c| eval(c, env)),
        }
    }

    fn arb_cond() -> impl Strategy<Value = Cond> {
        let leaf = prop::sample::select(vec!["a", "b", "c", "d", "e"])
            .prop_map(|s| Cond::Ident(s.to_string()));
        leaf.prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Cond::And),
                prop::collection::vec(inner, 2..4).prop_map(Cond::Or),
            ]
        })
    }

    /// Render with the fewest parentheses precedence allows.
    fn minimal(c: &Cond, parent: u8) -> String {
        let (prec, s) = match c {
            Cond::Ident(i) => (3, i.clone()),
            Cond::Quant { .. } => unreachable!(),
            Cond::Not(c) => (2, format!("not {}", minimal(c, 2))),
            Cond::And(cs) => (
                1,
                cs.iter()
                    .map(|c| minimal(c, 2))
                    .collect::<Vec<_>>()
                    .join(" and "),
            ),
            Cond::Or(cs) => (
                0,
                cs.iter()
                    .map(|c| minimal(c, 1))
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
        };
        if prec < parent {
            format!("({s})")
        } else {
            s
        }
    }

    proptest! {
        #[test]
        fn roundtrip_preserves_meaning(c in arb_cond(), bits in 0u8..32) {
            let env = [bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0, bits & 16 != 0];
            let full = parse_condition(&c.to_string(), 200).unwrap();
            let min = parse_condition(&minimal(&c, 0), 200).unwrap();
            prop_assert_eq!(eval(&full, &env), eval(&c, &env));
            prop_assert_eq!(eval(&min, &env), eval(&c, &env));
        }

        #[test]
        fn never_panics(s in "[a-z()| 01*]{0,40}") {
            let _ = parse_condition(&s, 16);
        }
    }
}

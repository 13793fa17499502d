//! Literals a regex cannot match without: what the shared prefilter looks
//! for in place of running the regex on every event.
//!
//! A rule whose only test is a regex had no literal to offer, so it was
//! evaluated on every event of its logsource: SigmaHQ's
//! `proc_creation_lnx_pnscan_binary_cli_pattern` alone was 60% of the
//! rule evaluations over the benchmark's linux corpus. regex-syntax knows,
//! for most patterns, a short set of texts every match starts (or ends)
//! with; a match of the regex then contains one of them.

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::Hir;

/// More literals than this for one regex: it is evaluated on every event
/// instead (a long list of short texts costs the automaton more than the
/// regex saves).
const MAX_LITERALS: usize = 32;
/// Literals shorter than this are found in nearly every event.
const MIN_LITERAL: usize = 2;
/// Literals regex-syntax may list before it shortens them: an eight-letter
/// word matched case-insensitively is 384 spellings (Unicode folds `k` and
/// `s` three ways), which fold back to one or two.
const EXTRACT_LIMIT: usize = 1024;

/// ASCII-lowercased texts of which every match of `hir` contains at least
/// one, or `None` when no useful set is known. Whichever of the prefix
/// and suffix sets has the longer shortest member is taken.
pub(crate) fn regex_literals(hir: &Hir) -> Option<Box<[String]>> {
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .filter_map(|kind| {
            let mut extractor = Extractor::new();
            extractor.kind(kind).limit_total(EXTRACT_LIMIT);
            usable(extractor.extract(hir))
        })
        .max_by_key(|lits| lits.iter().map(String::len).min())
}

/// `seq`'s literals as the prefilter takes them: finite, non-empty, each
/// long enough, valid UTF-8 (a literal cut inside a character is not), and
/// not too many once case is folded.
fn usable(seq: Seq) -> Option<Box<[String]>> {
    let mut out = Vec::new();
    for lit in seq.literals()? {
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        if text.len() < MIN_LITERAL {
            return None;
        }
        out.push(text.to_ascii_lowercase());
    }
    out.sort_unstable();
    out.dedup();
    (!out.is_empty() && out.len() <= MAX_LITERALS).then(|| out.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn literals(pattern: &str, ci: bool) -> Option<Vec<String>> {
        let hir = regex_syntax::ParserBuilder::new()
            .case_insensitive(ci)
            .build()
            .parse(pattern)
            .unwrap();
        regex_literals(&hir).map(Vec::from)
    }

    #[test]
    fn alternatives_and_case_fold_to_a_few_lowercase_texts() {
        assert_eq!(
            literals(
                r#"-(W|R)\s?(\s|"|')([0-9a-fA-F]{2}\s?){2,20}(\s|"|')"#,
                false
            )
            .unwrap(),
            ["-r", "-w"]
        );
        // Unicode folds `k` with the Kelvin sign too.
        assert_eq!(
            literals("(?i)mimikatz", false).unwrap(),
            ["mimikatz", "mimi\u{212a}atz"]
        );
        assert_eq!(
            literals("Invoke-(Expression|WebRequest)", false).unwrap(),
            ["invoke-expression", "invoke-webrequest"]
        );
        // Folded, the spellings pass the extractor's limit: it keeps the
        // part they share.
        assert_eq!(
            literals("Invoke-(Expression|WebRequest)", true).unwrap(),
            ["invoke-", "invo\u{212a}e-"]
        );
        // Nothing known at the start: the end is used.
        assert_eq!(literals(r".*\.ps1$", false).unwrap(), [".ps1"]);
    }

    #[test]
    fn no_set_when_it_would_not_help() {
        // Matches without any text, or with one byte of it.
        assert_eq!(literals("a*", false), None);
        assert_eq!(literals("x", false), None);
        assert_eq!(literals(".+", false), None);
        // Too many texts.
        assert_eq!(literals("[a-z]{3}", false), None);
    }

    /// A small regex: pieces, each an atom or a two-way alternation,
    /// each maybe repeated. Always parses.
    fn pattern() -> impl Strategy<Value = String> {
        let atom = prop::sample::select(vec![
            "ab", "cd", "[xy]", ".", r"\s", "é", "E", "-", "^", "$", r"\b", "k",
        ]);
        let piece = (
            atom.clone(),
            prop::option::of(atom),
            prop::sample::select(vec!["", "*", "+", "?", "{2}"]),
        )
            .prop_map(|(a, b, rep)| match b {
                Some(b) => format!("({a}|{b}){rep}"),
                None => format!("(?:{a}){rep}"),
            });
        prop::collection::vec(piece, 1..6).prop_map(|p| p.concat())
    }

    proptest! {
        /// The invariant the prefilter relies on: whatever the pattern and
        /// the text, a match means some literal is in the text (ASCII case
        /// folded).
        #[test]
        fn every_match_contains_a_literal(
            pattern in pattern(),
            ci in any::<bool>(),
            text in "[abcdxyEKk\u{212a} é\\-\n]{0,24}",
        ) {
            let hir = regex_syntax::ParserBuilder::new().case_insensitive(ci).build().parse(&pattern).unwrap();
            let Some(lits) = regex_literals(&hir) else { return Ok(()) };
            let re = regex::RegexBuilder::new(&pattern).case_insensitive(ci).build().unwrap();
            if re.is_match(&text) {
                let folded = text.to_ascii_lowercase();
                prop_assert!(
                    lits.iter().any(|l| folded.contains(l.as_str())),
                    "{pattern:?} matches {text:?} but it holds none of {lits:?}"
                );
            }
        }

        /// Texts built to match: the invariant above, tested where it
        /// bites.
        #[test]
        fn a_text_the_regex_finds_holds_a_literal(
            pattern in pattern(),
            ci in any::<bool>(),
            around in "[a-z ]{0,4}",
            fill in prop::collection::vec(prop::sample::select(vec!["ab", "cd", "x", "y", " ", "é", "E", "-", "k", "K"]), 0..12),
        ) {
            let hir = regex_syntax::ParserBuilder::new().case_insensitive(ci).build().parse(&pattern).unwrap();
            let Some(lits) = regex_literals(&hir) else { return Ok(()) };
            let re = regex::RegexBuilder::new(&pattern).case_insensitive(ci).build().unwrap();
            let text = format!("{around}{}{around}", fill.concat());
            if let Some(m) = re.find(&text) {
                let folded = m.as_str().to_ascii_lowercase();
                prop_assert!(
                    lits.iter().any(|l| folded.contains(l.as_str())),
                    "{pattern:?} finds {:?} in {text:?} but it holds none of {lits:?}", m.as_str()
                );
            }
        }
    }
}

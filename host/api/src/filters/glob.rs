//! Go's `path.Match`, which moby's `reference.FamiliarMatch` uses for the
//! image list's `reference` filter. Hand-written rather than the `glob`
//! crate: its syntax differs where Docker users' patterns meet it (`[!..]`
//! instead of Go's `[^..]`, no `\` escapes inside classes, and a
//! malformed pattern that still matches), and a filter must select exactly
//! what dockerd would.
//!
//! Go's grammar (`path.Match` documentation):
//!
//! ```text
//! pattern:         { term }
//! term:            '*'  any sequence of non-/ characters
//!                  '?'  any single non-/ character
//!                  '[' [ '^' ] { character-range } ']'  (non-empty class)
//!                  c    the character c (c != '*', '?', '\\', '[')
//!                  '\\' c  the character c
//! character-range: c    (c != '\\', '-', ']')
//!                  '\\' c
//!                  lo '-' hi
//! ```

/// A pattern that does not follow the grammar (Go's `ErrBadPattern`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// `*`.
    Star,
    /// `?`.
    Any,
    /// A class: negated, and its inclusive ranges.
    Class(bool, Vec<(char, char)>),
    /// A literal character.
    Char(char),
}

/// Whether `name` matches `pattern` as a whole, with Go's `path.Match`
/// rules; a malformed pattern is an error whatever the name.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let terms = parse(pattern)?;
    let name: Vec<char> = name.chars().collect();
    Ok(matches(&terms, &name))
}

fn parse(pattern: &str) -> Result<Vec<Term>, BadPattern> {
    let mut chars = pattern.chars().peekable();
    let mut terms = Vec::new();
    while let Some(c) = chars.next() {
        terms.push(match c {
            '*' => Term::Star,
            '?' => Term::Any,
            '\\' => Term::Char(chars.next().ok_or(BadPattern)?),
            '[' => {
                let negated = chars.next_if_eq(&'^').is_some();
                let mut ranges = Vec::new();
                loop {
                    match chars.peek() {
                        None => return Err(BadPattern),
                        Some(']') if !ranges.is_empty() => {
                            chars.next();
                            break;
                        }
                        Some(_) => {}
                    }
                    let lo = class_char(&mut chars)?;
                    let hi = if chars.next_if_eq(&'-').is_some() {
                        class_char(&mut chars)?
                    } else {
                        lo
                    };
                    ranges.push((lo, hi));
                }
                Term::Class(negated, ranges)
            }
            c => Term::Char(c),
        });
    }
    Ok(terms)
}

/// One character of a class (Go's `getEsc`): `]` and `-` must be escaped.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, BadPattern> {
    match chars.next() {
        None | Some('-') | Some(']') => Err(BadPattern),
        Some('\\') => chars.next().ok_or(BadPattern),
        Some(c) => Ok(c),
    }
}

fn matches(terms: &[Term], name: &[char]) -> bool {
    match terms.split_first() {
        None => name.is_empty(),
        Some((Term::Star, rest)) => {
            // Any run of non-/ characters, shortest first.
            let run = name.iter().take_while(|c| **c != '/').count();
            (0..=run).any(|n| matches(rest, &name[n..]))
        }
        Some((term, rest)) => match name.split_first() {
            Some((c, tail)) if single(term, *c) => matches(rest, tail),
            _ => false,
        },
    }
}

fn single(term: &Term, c: char) -> bool {
    match term {
        Term::Any => c != '/',
        Term::Char(want) => *want == c,
        Term::Class(negated, ranges) => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
        Term::Star => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases of Go's `path/match_test.go` (`matchTests`).
    #[test]
    fn gos_own_cases() {
        let ok = |p: &str, s: &str| path_match(p, s).unwrap_or_else(|e| panic!("{p}: {e}"));
        for (pattern, name, want) in [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
        ] {
            assert_eq!(ok(pattern, name), want, "{pattern:?} {name:?}");
        }
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "*x\\",
        ] {
            assert_eq!(path_match(bad, "a"), Err(BadPattern), "{bad:?}");
        }
    }
}

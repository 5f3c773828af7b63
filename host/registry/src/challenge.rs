//! `WWW-Authenticate` challenges (RFC 7235 §4.1) as registries send them:
//! `Basic realm="..."` or `Bearer realm="...",service="...",scope="..."`
//! (the Docker token authentication spec).

use std::collections::BTreeMap;

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`basic`, `bearer`).
    pub scheme: String,
    /// Its parameters, names lowercased.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// The `realm` parameter (the token endpoint for bearer).
    pub fn realm(&self) -> Option<&str> {
        self.params.get("realm").map(String::as_str)
    }

    /// The `service` parameter.
    pub fn service(&self) -> Option<&str> {
        self.params.get("service").map(String::as_str)
    }
}

/// The challenges of every `WWW-Authenticate` header of an answer; those
/// that do not parse are left out.
pub fn of_headers(headers: &reqwest::header::HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse)
        .flatten()
        .collect()
}

/// The challenge berth answers among `challenges`: `Bearer` (a token for
/// just the scopes asked) before `Basic` (the password on every request),
/// as distribution's client prefers it.
pub fn preferred(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges
        .iter()
        .find(|c| c.scheme == "bearer")
        .or_else(|| challenges.iter().find(|c| c.scheme == "basic"))
}

/// Parses a `WWW-Authenticate` value holding one or more challenges;
/// `None` if it does not parse.
pub fn parse(header: &str) -> Option<Vec<Challenge>> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // A scheme token, or (after a comma) the next parameter.
        let token_end = rest.find([' ', '=', ',']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if let Some(value_part) = after.strip_prefix('=') {
            // name=value of the current challenge.
            let current = out.last_mut()?;
            let (value, remaining) = parse_value(value_part.trim_start())?;
            if token.is_empty() {
                return None;
            }
            current.params.insert(token.to_ascii_lowercase(), value);
            rest = remaining.trim_start();
        } else {
            if token.is_empty() {
                return None;
            }
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = after;
        }
        rest = rest.trim_start_matches([',', ' ']);
    }
    (!out.is_empty()).then_some(out)
}

/// A quoted string (with `\` escapes) or a token; and what follows.
fn parse_value(s: &str) -> Option<(String, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => return Some((value, &quoted[i + 1..])),
                c => value.push(c),
            }
        }
        None
    } else {
        let end = s.find([',', ' ']).unwrap_or(s.len());
        Some((s[..end].to_owned(), &s[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse_with_quotes_and_commas() {
        let c = parse(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#)
            .expect("parse");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].realm(), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].service(), Some("registry.docker.io"));
        assert_eq!(c[0].params["scope"], "repository:library/busybox:pull,push");
    }

    #[test]
    fn basic_and_several_challenges_parse() {
        let c = parse(r#"Basic realm="berth-test""#).expect("basic");
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].realm(), Some("berth-test"));
        let c = parse(r#"Basic realm="a", Bearer realm="b", service=svc"#).expect("two");
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].realm(), Some("b"));
        assert_eq!(c[1].service(), Some("svc"));
        let c = parse(r#"Bearer realm="with \"quote\"""#).expect("escape");
        assert_eq!(c[0].realm(), Some(r#"with "quote""#));
    }

    #[test]
    fn garbage_does_not_parse() {
        for bad in ["", "=x", r#"Bearer realm="unterminated"#, "realm=x"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}

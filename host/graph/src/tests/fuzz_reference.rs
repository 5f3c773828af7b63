//! Property tests of [`Reference::parse`] against an oracle: Docker's own
//! grammar, `distribution/reference` `regexp.go` and `normalize.go`
//! (`ParseNormalizedNamed`), written here with the `regex` crate from the
//! regexps as Docker spells them, independently of the hand-written parser.
//!
//! Two deliberate differences, both refusals where Docker is laxer:
//! - berth stores only `sha256` digests, so the oracle accepts a digest only
//!   when it is `sha256:` and 64 lower-case hex digits (go-digest would also
//!   take `sha384`/`sha512`);
//! - when `splitDockerDomain` takes a first component for a domain (it has a
//!   `.` or `:`) that the domain regexp then rejects (`a.b_c/x`), Docker's
//!   anchored regexp reads the whole name as a path and yields a reference
//!   with no domain at all, which no registry can serve; berth refuses it
//!   ("not a valid host name").

use std::sync::LazyLock;

use proptest::prelude::*;
use regex::Regex;

use super::fuzz_config;
use crate::Reference;

// distribution/reference regexp.go, verbatim except `\w` spelled as ASCII
// (Go's RE2 `\w` is ASCII; the regex crate's is Unicode).
const ALPHANUMERIC: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_NAME_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const OPTIONAL_PORT: &str = "(?::[0-9]+)?";
const TAG: &str = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";
const IPV6: &str = r"\[(?:[a-fA-F0-9:]+)\]";

fn domain_and_port() -> String {
    let domain_name = format!(r"{DOMAIN_NAME_COMPONENT}(?:\.{DOMAIN_NAME_COMPONENT})*");
    format!("(?:{domain_name}|{IPV6}){OPTIONAL_PORT}")
}

fn remote_name() -> String {
    let path_component = format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*");
    format!("{path_component}(?:/{path_component})*")
}

static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
    Regex::new(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$")).expect("reference regexp")
});
static ANCHORED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "^(?:({})/)?({})$",
        domain_and_port(),
        remote_name()
    ))
    .expect("name regexp")
});
static IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-f0-9]{64}$").expect("identifier regexp"));

/// What Docker makes of a reference: (domain, path, tag, digest).
type Parts = (String, String, Option<String>, Option<String>);

/// normalize.go `splitDockerDomain`.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return ("docker.io".into(), format!("library/{name}"));
    };
    let (domain, remote) = if maybe_domain == "localhost"
        || maybe_domain.contains(['.', ':'])
        || maybe_domain.to_lowercase() != maybe_domain
    {
        let domain = if maybe_domain == "index.docker.io" {
            "docker.io"
        } else {
            maybe_domain
        };
        (domain.to_owned(), maybe_remote.to_owned())
    } else {
        ("docker.io".to_owned(), name.to_owned())
    };
    if domain == "docker.io" && !remote.contains('/') {
        return (domain, format!("library/{remote}"));
    }
    (domain, remote)
}

/// normalize.go `ParseNormalizedNamed`, then reference.go `Parse`.
fn docker_parse(s: &str) -> Option<Parts> {
    if IDENTIFIER.is_match(s) {
        return None;
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder.split(':').next().unwrap_or("");
    if remote.to_lowercase() != remote {
        return None;
    }
    let full = format!("{domain}/{remainder}");
    let caps = REFERENCE.captures(&full)?;
    let name = caps.get(1)?.as_str();
    // reference.go NameTotalLengthMax.
    if name.len() > 255 {
        return None;
    }
    let named = ANCHORED_NAME.captures(name)?;
    let digest = caps.get(3).map(|m| m.as_str().to_owned());
    if let Some(d) = &digest {
        let hex = d.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
    }
    Some((
        // No domain: the quirk described in the module docs.
        named.get(1)?.as_str().to_owned(),
        named.get(2)?.as_str().to_owned(),
        caps.get(2).map(|m| m.as_str().to_owned()),
        digest,
    ))
}

fn parts(r: &Reference) -> Parts {
    (
        r.domain().to_owned(),
        r.path().to_owned(),
        r.tag().map(str::to_owned),
        r.digest().map(str::to_owned),
    )
}

/// Checks berth against the oracle on `input`, and the round trips of
/// whatever it accepts.
fn check(input: &str) -> Result<(), TestCaseError> {
    let ours = Reference::parse(input);
    let docker = docker_parse(input);
    match (&ours, &docker) {
        (Ok(r), Some(d)) => prop_assert_eq!(&parts(r), d, "input {:?}", input),
        (Err(_), None) => {}
        _ => prop_assert!(
            false,
            "berth and Docker disagree on {:?}: berth {:?}, Docker {:?}",
            input,
            ours,
            docker
        ),
    }
    if let Ok(r) = ours {
        // The fully qualified form parses back to the same reference, and
        // normalising twice changes nothing.
        let shown = r.to_string();
        let back = Reference::parse(&shown);
        prop_assert_eq!(back.as_ref(), Ok(&r), "display {:?} of {:?}", shown, input);
        prop_assert_eq!(Reference::parse(&r.name()).map(|n| n.name()), Ok(r.name()));
        // So does the familiar form Docker prints, except where Docker's
        // own `FamiliarString` is ambiguous: a Docker Hub path whose first
        // component reads as a domain (`docker.io/0.0/a` prints `0.0/a`).
        let first = r.path().split('/').next().unwrap_or("");
        let ambiguous =
            r.domain() == "docker.io" && (first.contains(['.', ':']) || first == "localhost");
        if !ambiguous {
            prop_assert_eq!(Reference::parse(&r.familiar()), Ok(r.clone()));
        }
        let tagged = r.clone().with_default_tag();
        prop_assert_eq!(tagged.clone().with_default_tag(), tagged.clone());
        prop_assert!(tagged.tag().is_some() || tagged.digest().is_some());
        prop_assert_eq!(Reference::parse(&tagged.to_string()), Ok(tagged));
    }
    Ok(())
}

/// A reference built from the grammar: each part valid or, sometimes,
/// slightly wrong, so that both sides of every rule are exercised.
fn grammar_reference() -> impl Strategy<Value = String> {
    let component = "[a-z0-9]{1,8}(([._]|__|-{1,3})[a-z0-9]{1,8}){0,3}";
    let long_component = "[a-z0-9]{40,70}";
    let bad_component = "[a-zA-Z0-9._-]{0,6}";
    let path_component = prop_oneof![
        6 => component,
        2 => long_component,
        1 => bad_component,
    ];
    let path = prop::collection::vec(path_component, 1..6).prop_map(|c| c.join("/"));
    let domain_component = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?";
    let domain = prop_oneof![
        3 => Just(String::new()),
        1 => Just("localhost/".to_owned()),
        1 => Just("docker.io/".to_owned()),
        1 => Just("index.docker.io/".to_owned()),
        3 => (prop::collection::vec(domain_component, 1..4), proptest::option::of(0u32..70000))
            .prop_map(|(c, port)| {
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}{port}/", c.join("."))
            }),
        1 => ("[0-9a-fA-F:]{1,12}", proptest::option::of(0u32..70000)).prop_map(|(h, port)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("[{h}]{port}/")
        }),
        1 => "[a-zA-Z0-9._:\\[\\]-]{1,12}/",
    ];
    let tag = prop_oneof![
        3 => Just(String::new()),
        3 => "[0-9A-Za-z_][0-9A-Za-z_.-]{0,20}".prop_map(|t| format!(":{t}")),
        1 => "[0-9A-Za-z_][0-9A-Za-z_.-]{120,130}".prop_map(|t| format!(":{t}")),
        1 => "[!-~]{0,5}".prop_map(|t| format!(":{t}")),
    ];
    let digest = prop_oneof![
        4 => Just(String::new()),
        2 => "[a-f0-9]{64}".prop_map(|h| format!("@sha256:{h}")),
        1 => "[a-zA-Z0-9]{1,8}:[a-fA-F0-9]{30,70}".prop_map(|d| format!("@{d}")),
    ];
    (domain, path, tag, digest).prop_map(|(d, p, t, g)| format!("{d}{p}{t}{g}"))
}

proptest! {
    #![proptest_config(fuzz_config(512))]

    /// Valid-looking references from the grammar agree with Docker's, and
    /// every accepted one round-trips.
    #[test]
    fn grammar_references_agree_with_docker(input in grammar_reference()) {
        check(&input)?;
    }

    /// Arbitrary strings over the reference alphabet (and beyond) never
    /// panic and are judged as Docker judges them.
    #[test]
    fn arbitrary_strings_agree_with_docker(
        input in prop_oneof![
            "[a-zA-Z0-9._:/@\\[\\]-]{0,40}",
            any::<String>(),
            "[a-f0-9]{62,66}",
        ]
    ) {
        check(&input)?;
    }
}

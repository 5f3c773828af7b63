//! Container ids and names.
//!
//! Ids are 32 random bytes in hex, like moby's `stringid.GenerateRandomID`,
//! which also rejects ids whose 12-character short form is all digits (it
//! would parse as a number in some tools). Names without a user choice are
//! `adjective_surname`, as in moby's `pkg/namesgenerator`.

use rand::RngExt;

use crate::job::JobError;

const LEFT: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const RIGHT: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "austin",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "boyd",
    "brahmagupta",
    "brattain",
    "brown",
    "burnell",
    "cannon",
    "carson",
    "cartwright",
    "chandrasekhar",
    "chaplygin",
    "chatterjee",
    "clarke",
    "colden",
    "cori",
    "cray",
    "curie",
    "darwin",
    "davinci",
    "diffie",
    "dijkstra",
    "dirac",
    "driscoll",
    "dubinsky",
    "easley",
    "edison",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "feistel",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gates",
    "goldberg",
    "goldstine",
    "goldwasser",
    "golick",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hodgkin",
    "hopper",
    "hypatia",
    "jackson",
    "jang",
    "jennings",
    "jepsen",
    "johnson",
    "joliot",
    "jones",
    "kalam",
    "keller",
    "kepler",
    "khorana",
    "kilby",
    "knuth",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lewin",
    "lichterman",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "mayer",
    "mccarthy",
    "mcclintock",
    "meitner",
    "mendel",
    "merkle",
    "minsky",
    "mirzakhani",
    "morse",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nobel",
    "noether",
    "panini",
    "pare",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "robinson",
    "roentgen",
    "rosalind",
    "saha",
    "sammet",
    "shannon",
    "shaw",
    "shockley",
    "sinoussi",
    "snyder",
    "spence",
    "stonebraker",
    "swanson",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// A new random 64-hex-digit container id.
pub fn generate_id() -> String {
    let mut rng = rand::rng();
    loop {
        let bytes: [u8; 32] = rng.random();
        let id = hex::encode(bytes);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// Whether `s` has the shape of a [`generate_id`] id: 64 lowercase hex
/// digits.
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A random `adjective_surname`; `retry > 0` appends a digit like moby
/// does after a collision.
pub fn random_name(retry: u32) -> String {
    let mut rng = rand::rng();
    let left = LEFT[rng.random_range(0..LEFT.len())];
    let right = RIGHT[rng.random_range(0..RIGHT.len())];
    // moby: "Steve Wozniak is not boring".
    if left == "boring" && right == "wozniak" {
        return random_name(retry);
    }
    if retry > 0 {
        format!("{left}_{right}{}", rng.random_range(0..10))
    } else {
        format!("{left}_{right}")
    }
}

/// Validates a user-given name (with or without its leading `/`) and
/// returns it without the slash. The characters and the message are moby's
/// (`daemon/names.go`: `[a-zA-Z0-9][a-zA-Z0-9_.-]`), but one character is
/// enough: dockerd's pattern wants two, and `docker run --name x` is part of
/// what berthd must serve.
pub fn validate_name(name: &str) -> Result<String, JobError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(bare.to_owned())
    } else {
        Err(JobError::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits() {
        let id = generate_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(is_id(&id));
        assert!(!is_id(&id[1..]) && !is_id(&id.to_uppercase()) && !is_id("plugins"));
        assert_ne!(id, generate_id());
    }

    #[test]
    fn random_names_look_like_dockers() {
        let name = random_name(0);
        let (l, r) = name.split_once('_').unwrap();
        assert!(LEFT.contains(&l) && RIGHT.contains(&r), "{name}");
        assert!(validate_name(&name).is_ok());
        assert!(random_name(1).ends_with(|c: char| c.is_ascii_digit()));
    }

    #[test]
    fn validates_names_like_moby() {
        assert_eq!(validate_name("/web-1").unwrap(), "web-1");
        assert_eq!(validate_name("a.b_c").unwrap(), "a.b_c");
        assert_eq!(validate_name("x").unwrap(), "x");
        for bad in ["", "/", "-web", "web/1", "we b", "_x"] {
            let err = validate_name(bad).unwrap_err();
            assert!(
                err.message.starts_with("Invalid container name"),
                "{bad}: {err}"
            );
        }
    }
}

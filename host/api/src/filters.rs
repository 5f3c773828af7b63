//! The `filters` query parameter: a JSON object from filter names to
//! values. Clients send either `{"name": ["a"]}` or the older
//! `{"name": {"a": true}}`; both are accepted.
//!
//! The matching helpers follow moby's `api/types/filters` (`Args`): how a
//! filter applies is dockerd's, so that a list berthd answers is the list
//! dockerd would answer, never a wider one.

mod glob;
mod until;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use glob::{BadPattern, path_match};
pub use until::{UntilError, parse_go_duration, parse_until};

/// Parsed filters: name → accepted values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

/// A filter berthd refuses, with dockerd's message where it has one
/// (moby `api/types/filters/errors.go`, `daemon/errors.go`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The `filters` value is not filter JSON.
    #[error("invalid filter: {0}")]
    Json(String),
    /// A filter name the endpoint does not know.
    #[error("invalid filter '{0}'")]
    Name(String),
    /// A filter dockerd has for this endpoint but berthd does not apply.
    #[error("invalid filter '{0}': not supported by berth")]
    Unsupported(String),
    /// Values that do not make sense for the filter (Go prints the values
    /// as a `[]string`: `[a b]`).
    #[error("invalid filter '{name}=[{}]'", values.join(" "))]
    Values {
        /// The filter.
        name: String,
        /// Its values.
        values: Vec<String>,
    },
    /// A prune filter with more than one `until` (moby's wording).
    #[error("more than one until filter specified")]
    ManyUntil,
    /// An `until` value that is no time.
    #[error(transparent)]
    Until(#[from] UntilError),
    /// Anything else, with its own message.
    #[error("{0}")]
    Other(String),
}

impl Filters {
    /// Parses the query value; an empty string means no filters.
    pub fn parse(raw: &str) -> Result<Filters, FilterError> {
        if raw.trim().is_empty() {
            return Ok(Filters::default());
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Values {
            List(Vec<String>),
            Set(BTreeMap<String, bool>),
        }
        let map: BTreeMap<String, Values> =
            serde_json::from_str(raw).map_err(|e| FilterError::Json(e.to_string()))?;
        Ok(Filters(
            map.into_iter()
                .map(|(k, v)| {
                    let values = match v {
                        Values::List(l) => l,
                        Values::Set(s) => s
                            .into_iter()
                            .filter(|(_, on)| *on)
                            .map(|(k, _)| k)
                            .collect(),
                    };
                    (k, normalized(values))
                })
                .collect(),
        ))
    }

    /// Adds a value for a filter.
    pub fn add(&mut self, name: &str, value: &str) {
        let values = self.0.entry(name.to_owned()).or_default();
        values.push(value.to_owned());
        *values = normalized(std::mem::take(values));
    }

    /// Values of one filter (empty when absent).
    pub fn get(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Names of the filters present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Fails naming the first filter not in `known` (moby `Args.Validate`:
    /// "invalid filter 'x'").
    pub fn check_names(&self, known: &[&str]) -> Result<(), FilterError> {
        match self.names().find(|n| !known.contains(n)) {
            Some(unknown) => Err(FilterError::Name(unknown.to_owned())),
            None => Ok(()),
        }
    }

    /// Fails naming the first of `unsupported` present: filters dockerd has
    /// for the endpoint that berthd cannot apply.
    pub fn refuse(&self, unsupported: &[&str]) -> Result<(), FilterError> {
        match self.names().find(|n| unsupported.contains(n)) {
            Some(name) => Err(FilterError::Unsupported(name.to_owned())),
            None => Ok(()),
        }
    }

    /// Whether the filter is present (moby `Args.Contains`).
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A boolean filter (moby `Args.GetBoolOrDefault`): `None` when absent;
    /// `1`/`true` or `0`/`false`; anything else, or both, is an error.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, FilterError> {
        let Some(values) = self.0.get(name) else {
            return Ok(None);
        };
        let has = |v: &str| values.iter().any(|x| x == v);
        let (is_true, is_false) = (has("1") || has("true"), has("0") || has("false"));
        if is_true == is_false {
            return Err(FilterError::Values {
                name: name.to_owned(),
                values: values.clone(),
            });
        }
        Ok(Some(is_true))
    }

    /// Whether `source` is one of the values (true when the filter is
    /// absent; moby `Args.ExactMatch`).
    pub fn exact(&self, name: &str, source: &str) -> bool {
        let values = self.get(name);
        values.is_empty() || values.iter().any(|v| v == source)
    }

    /// moby `Args.Match`: true when the filter is absent, or a value equals
    /// `source` or, as a regular expression, matches somewhere in it (a
    /// value that is no valid expression matches only exactly).
    pub fn matches(&self, name: &str, source: &str) -> bool {
        let values = self.get(name);
        values.is_empty()
            || values
                .iter()
                .any(|v| v == source || regex::Regex::new(v).is_ok_and(|re| re.is_match(source)))
    }

    /// moby `Args.MatchKVList`: every `key` or `key=value` value names a
    /// label that `labels` has (with that value); true when absent.
    pub fn match_labels(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.get(name).iter().all(|v| match v.split_once('=') {
            Some((k, val)) => labels.get(k).is_some_and(|x| x == val),
            None => labels.contains_key(v.as_str()),
        })
    }

    /// The prune endpoints' `label` and `label!` (moby's `matchLabels` in
    /// `daemon/prune.go`): every `label` is present, and not every
    /// `label!` is (a `label!` filter never excludes an object without
    /// labels).
    pub fn prune_labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels("label", labels)
            && !(self.contains("label!")
                && !labels.is_empty()
                && self.match_labels("label!", labels))
    }

    /// The prune endpoints' `until` (moby's `getUntilFromPruneFilters`),
    /// `now` being the reference of a duration; `None` when absent.
    pub fn until(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, FilterError> {
        match self.get("until") {
            [] => Ok(None),
            [one] => Ok(Some(parse_until(one, now)?)),
            _ => Err(FilterError::ManyUntil),
        }
    }

    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Serializes to the `{"name": {"value": true}}` form every API version
    /// accepts.
    pub fn to_query_json(&self) -> String {
        let map: BTreeMap<&str, BTreeMap<&str, bool>> = self
            .0
            .iter()
            .map(|(k, vs)| (k.as_str(), vs.iter().map(|v| (v.as_str(), true)).collect()))
            .collect();
        serde_json::to_string(&map).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Values are a set: sorted, without duplicates.
fn normalized(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_wire_forms() {
        let a = Filters::parse(r#"{"name":["web"],"status":["running","exited"]}"#).unwrap();
        let b = Filters::parse(r#"{"name":{"web":true},"status":{"running":true,"exited":true}}"#)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get("name"), ["web"]);
        assert!(a.get("label").is_empty());
        assert!(Filters::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_garbage_and_unknown_names() {
        assert!(Filters::parse("{not json").is_err());
        let f = Filters::parse(r#"{"colour":["red"]}"#).unwrap();
        assert_eq!(
            f.check_names(&["name"]).unwrap_err().to_string(),
            "invalid filter 'colour'"
        );
        assert_eq!(
            f.refuse(&["colour"]).unwrap_err().to_string(),
            "invalid filter 'colour': not supported by berth"
        );
    }

    #[test]
    fn booleans_like_mobys_get_bool_or_default() {
        let f = |json: &str| Filters::parse(json).unwrap();
        assert_eq!(f("{}").get_bool("dangling"), Ok(None));
        assert_eq!(
            f(r#"{"dangling":["1"]}"#).get_bool("dangling"),
            Ok(Some(true))
        );
        assert_eq!(
            f(r#"{"dangling":["false"]}"#).get_bool("dangling"),
            Ok(Some(false))
        );
        assert_eq!(
            f(r#"{"dangling":["yes"]}"#)
                .get_bool("dangling")
                .unwrap_err()
                .to_string(),
            "invalid filter 'dangling=[yes]'"
        );
        assert!(
            f(r#"{"dangling":["true","0"]}"#)
                .get_bool("dangling")
                .is_err()
        );
    }

    #[test]
    fn match_is_exact_or_a_regular_expression() {
        let f = Filters::parse(r#"{"name":["^/web$","db"],"id":["("]}"#).unwrap();
        assert!(f.matches("name", "/web"));
        assert!(!f.matches("name", "/web2"));
        assert!(
            f.matches("name", "/mydb-1"),
            "unanchored, as Go's MatchString"
        );
        assert!(
            f.matches("id", "("),
            "an invalid expression still matches exactly"
        );
        assert!(!f.matches("id", "abc"));
        assert!(f.matches("absent", "anything"));
        let labels = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        let l = Filters::parse(r#"{"label":["a","a=1"],"other":["b"]}"#).unwrap();
        assert!(l.match_labels("label", &labels));
        assert!(!l.match_labels("other", &labels));
        assert!(l.match_labels("absent", &labels));
    }

    #[test]
    fn round_trips_through_query_json() {
        let mut f = Filters::default();
        f.add("label", "a=b");
        assert_eq!(Filters::parse(&f.to_query_json()).unwrap(), f);
    }
}

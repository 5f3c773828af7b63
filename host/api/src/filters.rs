//! The `filters` query parameter: a JSON object from filter names to
//! values. Clients send either `{"name": ["a"]}` or the older
//! `{"name": {"a": true}}`; both are accepted.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Parsed filters: name → accepted values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

/// A `filters` value that is not valid filter JSON. The message is dockerd's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter: {0}")]
pub struct FilterError(pub String);

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
            serde_json::from_str(raw).map_err(|e| FilterError(e.to_string()))?;
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

    /// Fails naming the first filter not in `known` (dockerd: "invalid
    /// filter 'x'").
    pub fn check_names(&self, known: &[&str]) -> Result<(), FilterError> {
        match self.names().find(|n| !known.contains(n)) {
            Some(unknown) => Err(FilterError(format!("'{unknown}'"))),
            None => Ok(()),
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
            "invalid filter: 'colour'"
        );
    }

    #[test]
    fn round_trips_through_query_json() {
        let mut f = Filters::default();
        f.add("label", "a=b");
        assert_eq!(Filters::parse(&f.to_query_json()).unwrap(), f);
    }
}

//! The bodies of the image archive verbs: `POST /images/load` (a JSON
//! message stream), `GET /images/{name}/history`, `POST /commit`.

use serde::{Deserialize, Serialize};

/// One line of the `POST /images/load` stream (moby's `jsonmessage`
/// with only `stream` set, or `errorDetail` for a failure in-band).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamMessage {
    /// A line of text, `\n`-terminated (`Loaded image: busybox:latest\n`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stream: String,
    /// Error text; the docker CLI prints it and exits 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Structured error.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<crate::image::ErrorDetail>,
}

/// One entry of `GET /images/{name}/history` (moby
/// `image.HistoryResponseItem`), newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HistoryResponseItem {
    /// `sha256:<hex>` for the image itself, `<missing>` for entries below.
    pub id: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// The instruction.
    pub created_by: String,
    /// Tags of the image, on its own entry (`null` elsewhere, as moby).
    pub tags: Option<Vec<String>>,
    /// Bytes of the layer the entry made.
    pub size: i64,
    /// The comment.
    pub comment: String,
}

/// The answer of `POST /commit` (moby `types.IDResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IdResponse {
    /// `sha256:<hex>`.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_uses_mobys_keys_and_null_tags() {
        let item = HistoryResponseItem {
            id: "<missing>".into(),
            created: 1,
            created_by: "RUN x".into(),
            tags: None,
            size: 2,
            comment: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"Id":"<missing>","Created":1,"CreatedBy":"RUN x","Tags":null,"Size":2,"Comment":""}"#
        );
        let line = StreamMessage {
            stream: "Loaded image: a:1\n".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"stream":"Loaded image: a:1\n"}"#
        );
    }
}

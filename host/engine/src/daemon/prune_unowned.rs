//! `POST /networks/prune` and `POST /build/prune`, which `docker system
//! prune` calls after `/containers/prune` and before `/images/prune`.
//! Networks are pruned as moby's `NetworksPrune` does (in `networks.rs`'s
//! store); berthd has no build cache (no builder yet), so the true answer
//! there is that nothing was deleted. The filters are checked as moby
//! checks them, so that a request dockerd would refuse is refused here
//! too, and an unknown filter is a 400.

use berth_api::filters::{FilterError, Filters, parse_until};
use berth_api::prune::{BuildCachePruneResponse, NetworkPruneResponse};
use chrono::Utc;

use crate::daemon::Daemon;
use crate::job::JobError;

/// moby's `networksAcceptedFilters` (`daemon/prune.go`).
const NETWORK_PRUNE_FILTERS: [&str; 3] = ["label", "label!", "until"];

/// moby's build-cache fields (`builder-next/builder.go` `cacheFields`),
/// `until` and its deprecated synonym `unused-for`, and the label filters
/// `docker system prune --filter label=…` passes on to this endpoint too.
const BUILD_PRUNE_FILTERS: [&str; 12] = [
    "description",
    "id",
    "immutable",
    "inuse",
    "label",
    "label!",
    "mutable",
    "parent",
    "private",
    "shared",
    "type",
    "until",
];

/// `unused-for`, checked apart: it conflicts with `until`.
const UNUSED_FOR: &str = "unused-for";

fn invalid(err: FilterError) -> JobError {
    JobError::invalid(err.to_string())
}

/// What `/build/prune` takes besides `filters` (moby `postPrune`): sizes in
/// bytes; `all` is a boolean the job's env parses.
pub const BUILD_PRUNE_SIZES: [&str; 4] = [
    "keep-storage",
    "reserved-space",
    "max-used-space",
    "min-free-space",
];

impl Daemon {
    /// `POST /networks/prune`: removes every user-defined network no
    /// container is connected to, narrowed by `until` (created before) and
    /// `label`/`label!` with [`Filters::prune_labels_match`], never the
    /// predefined `bridge`, `host` and `none`, and reports their names, as
    /// moby's `NetworksPrune` does.
    pub async fn network_prune(&self, filters: &Filters) -> Result<NetworkPruneResponse, JobError> {
        filters
            .check_names(&NETWORK_PRUNE_FILTERS)
            .map_err(invalid)?;
        // moby's getUntilFromPruneFilters: one value, a time or duration.
        let until = filters.until(Utc::now()).map_err(invalid)?;
        let deleted = self.prune_networks(filters, until).await?;
        Ok(NetworkPruneResponse {
            networks_deleted: (!deleted.is_empty()).then_some(deleted),
        })
    }

    /// `POST /build/prune`: no build cache exists, nothing is removed.
    ///
    /// When a builder lands this removes the unused cache records (every
    /// one with `all`, else the unshared ones) that the fields select, last
    /// used before `until`, down to the size bounds, as BuildKit's prune
    /// does for moby. A `label` filter must then select none (cache records
    /// carry no labels), so that `docker system prune --filter label=keep`
    /// never deletes cache it cannot tell is unlabelled.
    pub fn build_prune(
        &self,
        filters: &Filters,
        sizes: &[(&str, &str)],
    ) -> Result<BuildCachePruneResponse, JobError> {
        if let Some(unknown) = filters
            .names()
            .find(|n| *n != UNUSED_FOR && !BUILD_PRUNE_FILTERS.contains(n))
        {
            return Err(invalid(FilterError::Name(unknown.to_owned())));
        }
        // moby's toBuildkitPruneInfo, in its order and with its messages.
        let (until, unused_for) = (filters.get("until"), filters.get(UNUSED_FOR));
        if !until.is_empty() && !unused_for.is_empty() {
            return Err(JobError::invalid(
                "conflicting filters: \"until\" and \"unused-for\"",
            ));
        }
        let (key, values) = if unused_for.is_empty() {
            ("until", until)
        } else {
            (UNUSED_FOR, unused_for)
        };
        match values {
            [] => {}
            [one] => {
                parse_until(one, Utc::now()).map_err(|e| {
                    JobError::invalid(format!(
                        "{key:?} filter expects a duration (e.g., '24h') or a timestamp: {e}"
                    ))
                })?;
            }
            _ => return Err(JobError::invalid("filters expect only one value")),
        }
        for field in BUILD_PRUNE_FILTERS {
            if field != "until" && filters.get(field).len() > 1 {
                return Err(JobError::invalid("filters expect only one value"));
            }
        }
        for (name, value) in sizes {
            if !value.is_empty() && value.parse::<i64>().is_err() {
                return Err(JobError::invalid(format!(
                    "{name} is in bytes and expects an integer ({value:?})"
                )));
            }
        }
        Ok(BuildCachePruneResponse::default())
    }
}

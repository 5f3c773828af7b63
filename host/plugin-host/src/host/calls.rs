//! Calls into the loaded plugins: jobs, the authorization chain and the
//! policy plugins, and the health accounting of their results.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{JobEntry, PluginHost};
use crate::events::PluginEventKind;
use crate::manifest::World;
use crate::plugin::{JobIo, LoadedPlugin};
use crate::runtime::WasmRuntime;
use crate::{CallFailure, PluginError};

impl PluginHost {
    /// Every job offered by an enabled plugin, by job name.
    pub fn jobs(&self) -> Vec<JobEntry> {
        let table = self.inner.table.load();
        let mut jobs = BTreeMap::new();
        for plugin in table.serving().filter(|p| table.enabled(p)) {
            for job in &plugin.jobs {
                // serving() yields directory plugins first: they win.
                jobs.entry(job.name.clone()).or_insert_with(|| JobEntry {
                    job: job.clone(),
                    plugin: plugin.name().to_owned(),
                    version: plugin.version().to_owned(),
                });
            }
        }
        jobs.into_values().collect()
    }

    /// Whether an enabled plugin offers job `name`.
    pub fn has_job(&self, name: &str) -> bool {
        self.inner.table.load().job_owner(name).is_some()
    }

    /// Runs plugin job `job` with `args`, `env` and `io` as its stdio, and
    /// returns its exit status. The call runs on the plugin version current
    /// when it starts, even if a new version is swapped in meanwhile.
    pub async fn run_job(
        &self,
        job: &str,
        args: &[String],
        env: &[(String, String)],
        io: JobIo,
    ) -> Result<i32, PluginError> {
        let plugin = {
            let table = self.inner.table.load();
            table
                .job_owner(job)
                .cloned()
                .ok_or_else(|| PluginError::NotFound {
                    what: "job",
                    name: job.to_owned(),
                })?
        };
        let admin = self
            .inner
            .graph_admin
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let result = plugin
            .run_job(&self.inner.runtime, admin, job, args, env, io)
            .await;
        self.report(&plugin, &result);
        result
    }

    /// Emits a `fail` event for a failed call.
    pub(crate) fn report<T>(&self, plugin: &LoadedPlugin, result: &Result<T, PluginError>) {
        if let Err(error @ PluginError::Call { kind, .. }) = result
            && *kind != CallFailure::Returned
        {
            self.emit(
                PluginEventKind::Fail,
                plugin.name(),
                Some(plugin.version()),
                error.to_string(),
            );
        }
    }

    /// The authz chain now (see [`crate::authz`]).
    pub(crate) fn authz_chain(&self) -> Vec<crate::authz::Link> {
        self.inner
            .table
            .load()
            .authz_chain(&self.inner.config.authorization_plugins)
    }

    /// The plugin serving `world`'s policy and the runtime, for the policy
    /// adapters.
    pub(crate) fn policy_for(&self, world: World) -> Option<Arc<LoadedPlugin>> {
        self.inner.table.load().policy(world).cloned()
    }

    pub(crate) fn runtime(&self) -> &WasmRuntime {
        &self.inner.runtime
    }
}

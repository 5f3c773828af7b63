//! Recording fakes of [`Kernel`] and [`Firewall`] for unit tests of the
//! logic above them: they record each call and can be told to fail one.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{BridgeSpec, Firewall, IfName, Kernel, NetworkError, TableName, VethSpec};

/// One recorded kernel call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelCall {
    /// [`Kernel::create_netns`].
    CreateNetns(PathBuf),
    /// [`Kernel::remove_netns`].
    RemoveNetns(PathBuf),
    /// [`Kernel::ensure_bridge`].
    EnsureBridge(BridgeSpec),
    /// [`Kernel::delete_link`].
    DeleteLink(IfName),
    /// [`Kernel::attach_veth`].
    AttachVeth(VethSpec),
    /// [`Kernel::bridge_ports`].
    BridgePorts(IfName),
    /// [`Kernel::bridges_with_alias`].
    BridgesWithAlias(String),
    /// [`Kernel::write_sysctl`].
    WriteSysctl(String, String),
}

/// A kernel that records calls; `ports` answers [`Kernel::bridge_ports`],
/// `sysctls` answers reads, and a call whose `Debug` form contains
/// `fail_on` fails.
#[derive(Debug, Default)]
pub struct FakeKernel {
    /// The calls, in order.
    pub calls: Mutex<Vec<KernelCall>>,
    /// What [`Kernel::bridge_ports`] returns, per bridge.
    pub ports: Mutex<Vec<(IfName, Vec<IfName>)>>,
    /// What [`Kernel::bridges_with_alias`] returns.
    pub owned_bridges: Mutex<Vec<IfName>>,
    /// What [`Kernel::route_destinations`] returns.
    pub routes: Mutex<Vec<crate::IpNetwork>>,
    /// The sysctls' values.
    pub sysctls: Mutex<Vec<(String, String)>>,
    /// Fail the calls whose debug form contains this.
    pub fail_on: Mutex<Option<String>>,
}

impl FakeKernel {
    /// The recorded calls so far.
    pub fn calls(&self) -> Vec<KernelCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, call: KernelCall) -> Result<(), NetworkError> {
        let failing = self
            .fail_on
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .is_some_and(|needle| format!("{call:?}").contains(&needle));
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
        if failing {
            return Err(NetworkError::Thread("injected failure".into()));
        }
        Ok(())
    }
}

impl Kernel for FakeKernel {
    fn create_netns(&self, path: &Path) -> Result<(), NetworkError> {
        self.record(KernelCall::CreateNetns(path.to_path_buf()))
    }

    fn remove_netns(&self, path: &Path) -> Result<(), NetworkError> {
        self.record(KernelCall::RemoveNetns(path.to_path_buf()))
    }

    fn ensure_bridge(&self, bridge: &BridgeSpec) -> Result<(), NetworkError> {
        self.record(KernelCall::EnsureBridge(bridge.clone()))
    }

    fn delete_link(&self, name: &IfName) -> Result<(), NetworkError> {
        self.record(KernelCall::DeleteLink(name.clone()))
    }

    fn attach_veth(&self, veth: &VethSpec) -> Result<(), NetworkError> {
        self.record(KernelCall::AttachVeth(veth.clone()))
    }

    fn bridge_ports(&self, bridge: &IfName) -> Result<Vec<IfName>, NetworkError> {
        self.record(KernelCall::BridgePorts(bridge.clone()))?;
        let ports = self.ports.lock().map(|p| p.clone()).unwrap_or_default();
        Ok(ports
            .into_iter()
            .find(|(b, _)| b == bridge)
            .map(|(_, p)| p)
            .unwrap_or_default())
    }

    fn bridges_with_alias(&self, alias: &str) -> Result<Vec<IfName>, NetworkError> {
        self.record(KernelCall::BridgesWithAlias(alias.into()))?;
        Ok(self
            .owned_bridges
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default())
    }

    fn route_destinations(
        &self,
        _exclude: &[IfName],
    ) -> Result<Vec<crate::IpNetwork>, NetworkError> {
        Ok(self.routes.lock().map(|r| r.clone()).unwrap_or_default())
    }

    fn read_sysctl(&self, key: &str) -> Result<String, NetworkError> {
        let sysctls = self.sysctls.lock().map(|s| s.clone()).unwrap_or_default();
        Ok(sysctls
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| "0".into()))
    }

    fn write_sysctl(&self, key: &str, value: &str) -> Result<(), NetworkError> {
        self.record(KernelCall::WriteSysctl(key.into(), value.into()))?;
        if let Ok(mut sysctls) = self.sysctls.lock() {
            sysctls.retain(|(k, _)| k != key);
            sysctls.push((key.into(), value.into()));
        }
        Ok(())
    }
}

/// A firewall that records each applied script (`None` for a delete).
#[derive(Debug, Default)]
pub struct FakeFirewall {
    /// The applied scripts, in order; `None` records a delete.
    pub applied: Mutex<Vec<Option<String>>>,
    /// Fail every apply while set.
    pub fail: Mutex<bool>,
}

impl FakeFirewall {
    /// The last applied script.
    pub fn last(&self) -> Option<String> {
        self.applied
            .lock()
            .ok()
            .and_then(|a| a.last().cloned().flatten())
    }
}

impl Firewall for FakeFirewall {
    fn apply(&self, table: &TableName, script: &str) -> Result<(), NetworkError> {
        if self.fail.lock().map(|f| *f).unwrap_or(false) {
            return Err(NetworkError::Nft {
                table: table.as_str().into(),
                stderr: "injected failure".into(),
            });
        }
        if let Ok(mut applied) = self.applied.lock() {
            applied.push(Some(script.to_string()));
        }
        Ok(())
    }

    fn delete(&self, _table: &TableName) -> Result<(), NetworkError> {
        if let Ok(mut applied) = self.applied.lock() {
            applied.push(None);
        }
        Ok(())
    }
}

//! Which credential a registry access presents: the daemon holds the
//! secrets (the client's `X-Registry-Auth`, the admin's
//! `--registry-auth-config`), the `registry-policy` plugin chooses among
//! their references (source, registry, user name) without seeing one
//! (issue 11: "the policy chooses; the host holds secrets and does all
//! HTTP"). The built-in policy (`plugins/registry-policy-default`) keeps
//! dockerd's behaviour; a registry-policy plugin in the plugin directory
//! replaces it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use berth_engine::driver::RegistryAuth;
use berth_engine::{ErrorKind, JobError};
use berth_plugin_host::PluginHost;
use berth_plugin_host::registry_policy_types::{
    AccessRequest, Choice, CredentialRef, CredentialSource,
};
use berth_registry::Credentials;

/// A registry key as a host name, as moby's `ConvertToHostname`
/// (`registry/auth.go`): scheme and path dropped; Docker Hub's addresses
/// (`https://index.docker.io/v1/`, `index.docker.io`,
/// `registry-1.docker.io`) are `docker.io`, what a reference's registry is.
pub fn registry_host(key: &str) -> String {
    let host = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        other => other.to_owned(),
    }
}

/// The admin's credentials: the `auths` of a docker-style `config.json`
/// (berthd's `--registry-auth-config`), keyed by registry host.
#[derive(Clone, Default)]
pub struct AdminCredentials {
    entries: BTreeMap<String, (String, Credentials)>,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(k, (u, _))| (k, u)))
            .finish()
    }
}

impl AdminCredentials {
    /// Reads `path`, a docker CLI config file (`{"auths": {"HOST": {"auth":
    /// base64("user:pass")}}}`, or `username`/`password`, or
    /// `registrytoken`). An unreadable or malformed file is an error: the
    /// admin named it, so starting without it would silently pull
    /// anonymously.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read(path)
            .with_context(|| format!("failed to read registry credentials {}", path.display()))?;
        Self::parse(&text)
            .with_context(|| format!("invalid registry credentials file {}", path.display()))
    }

    /// Parses the text of a docker CLI config file.
    pub fn parse(text: &[u8]) -> anyhow::Result<Self> {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            auths: BTreeMap<String, serde_json::Value>,
        }
        let file: File = serde_json::from_slice(text)?;
        let mut entries = BTreeMap::new();
        for (key, value) in file.auths {
            let auth = berth_engine::daemon::auth_config_from_json(value.to_string().as_bytes())
                .map_err(|e| anyhow::anyhow!("auths.{key}: {}", e.message))?;
            let (username, credentials) = if !auth.registry_token.is_empty() {
                (String::new(), Credentials::Token(auth.registry_token))
            } else if !auth.username.is_empty() {
                (
                    auth.username.clone(),
                    Credentials::Basic {
                        username: auth.username,
                        password: auth.password,
                    },
                )
            } else {
                anyhow::bail!("auths.{key}: no user name and password or token");
            };
            entries.insert(registry_host(&key), (username, credentials));
        }
        Ok(AdminCredentials { entries })
    }
}

/// The credentials a request brings: what the daemon holds for it, each
/// with its reference (what the policy sees) and its secret (what it
/// never does).
struct Held {
    refs: Vec<CredentialRef>,
    secrets: Vec<Credentials>,
}

fn client_credentials(auth: &RegistryAuth) -> Option<(String, Credentials)> {
    if !auth.registry_token.is_empty() {
        Some((
            String::new(),
            Credentials::Token(auth.registry_token.clone()),
        ))
    } else if !auth.username.is_empty() {
        Some((
            auth.username.clone(),
            Credentials::Basic {
                username: auth.username.clone(),
                password: auth.password.clone(),
            },
        ))
    } else {
        None
    }
}

fn held(registry: &str, auth: &RegistryAuth, admin: &AdminCredentials) -> Held {
    let mut held = Held {
        refs: Vec::new(),
        secrets: Vec::new(),
    };
    if let Some((username, secret)) = client_credentials(auth) {
        let key = if auth.server_address.is_empty() {
            registry.to_owned()
        } else {
            registry_host(&auth.server_address)
        };
        held.refs.push(CredentialRef {
            source: CredentialSource::XRegistryAuth,
            registry: key,
            username,
        });
        held.secrets.push(secret);
    }
    for (key, (username, secret)) in &admin.entries {
        held.refs.push(CredentialRef {
            source: CredentialSource::AdminConfig,
            registry: key.clone(),
            username: username.clone(),
        });
        held.secrets.push(secret.clone());
    }
    held
}

/// The default rule, for a plugin host without a registry policy (never
/// berthd, whose built-in plugin decides the same): the client's, else the
/// admin's for the registry, else anonymous.
fn default_choice(request: &AccessRequest, held: &[CredentialRef]) -> Choice {
    let index = |p: &dyn Fn(&CredentialRef) -> bool| {
        held.iter().position(p).and_then(|n| u32::try_from(n).ok())
    };
    index(&|c| c.source == CredentialSource::XRegistryAuth)
        .or_else(|| {
            index(&|c| c.source == CredentialSource::AdminConfig && c.registry == request.registry)
        })
        .map_or(Choice::Anonymous, Choice::UseHeld)
}

/// Chooses, through the registry policy, the credentials for one access.
#[derive(Debug, Clone)]
pub struct CredentialChooser {
    plugins: Option<PluginHost>,
    admin: AdminCredentials,
}

impl CredentialChooser {
    /// Asks `plugins`' registry policy, with the admin's credentials held
    /// besides each request's own.
    pub fn new(plugins: Option<PluginHost>, admin: AdminCredentials) -> Self {
        CredentialChooser { plugins, admin }
    }

    /// The credentials to present to `registry` for `actions` on
    /// `repository`, for job `origin`, given the client's `auth`. A policy
    /// that refuses, fails or traps fails the access: it is never made
    /// anonymously (or with another credential) instead.
    pub async fn choose(
        &self,
        registry: &str,
        repository: &str,
        actions: &[&str],
        origin: &str,
        auth: &RegistryAuth,
    ) -> Result<Credentials, JobError> {
        let Held { refs, mut secrets } = held(registry, auth, &self.admin);
        let request = AccessRequest {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            origin: origin.to_owned(),
        };
        let choice = match &self.plugins {
            None => default_choice(&request, &refs),
            Some(plugins) => {
                let plugins = plugins.clone();
                // A policy call is sync wasm with an epoch deadline: run it
                // off the async workers (STYLE.md rule 5).
                let (request, refs) = (request.clone(), refs.clone());
                tokio::task::spawn_blocking(move || {
                    plugins
                        .choose_registry_credential(&request, &refs)
                        .unwrap_or_else(|| Ok(default_choice(&request, &refs)))
                })
                .await
                .map_err(|e| JobError::internal("registry policy call", &e))?
                .map_err(|e| {
                    JobError::new(
                        ErrorKind::Internal,
                        format!("registry policy refused {registry}/{repository}: {e}"),
                    )
                })?
            }
        };
        Ok(match choice {
            Choice::Anonymous => Credentials::Anonymous,
            // The host validated the index against `refs` (same length).
            Choice::UseHeld(n) => {
                let n = n as usize;
                if n >= secrets.len() {
                    return Err(JobError::new(
                        ErrorKind::Internal,
                        format!("registry policy chose credential {n} of {}", secrets.len()),
                    ));
                }
                secrets.swap_remove(n)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(user: &str, server: &str) -> RegistryAuth {
        RegistryAuth {
            username: user.into(),
            password: "pw".into(),
            server_address: server.into(),
            ..RegistryAuth::default()
        }
    }

    #[test]
    fn registry_keys_are_hosts_as_moby_converts_them() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(registry_host("reg.example:443"), "reg.example:443");
    }

    #[test]
    fn admin_config_reads_docker_s_auths() {
        let admin = AdminCredentials::parse(
            br#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},
                 "reg.example":{"username":"a","password":"b"},
                 "tok.example":{"registrytoken":"t"}}}"#,
        )
        .unwrap();
        let refs = held("docker.io", &RegistryAuth::default(), &admin).refs;
        let seen: Vec<_> = refs
            .iter()
            .map(|r| (r.registry.as_str(), r.username.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("docker.io", "u"),
                ("reg.example", "a"),
                ("tok.example", "")
            ]
        );
        let err = AdminCredentials::parse(br#"{"auths":{"x":{}}}"#).unwrap_err();
        assert!(format!("{err:#}").contains("auths.x"), "{err:#}");
        assert!(AdminCredentials::parse(b"not json").is_err());
    }

    #[tokio::test]
    async fn the_default_prefers_the_client_then_the_admin_for_that_registry() {
        let admin =
            AdminCredentials::parse(br#"{"auths":{"reg.example":{"auth":"YWRtaW46cw=="}}}"#)
                .unwrap();
        let chooser = CredentialChooser::new(None, admin);
        let pick = |registry: &'static str, a: RegistryAuth| {
            let chooser = chooser.clone();
            async move {
                chooser
                    .choose(registry, "r", &["pull"], "pull", &a)
                    .await
                    .unwrap()
            }
        };
        let basic = |u: &str, p: &str| Credentials::Basic {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(
            pick("reg.example", auth("client", "")).await,
            basic("client", "pw")
        );
        assert_eq!(
            pick("reg.example", RegistryAuth::default()).await,
            basic("admin", "s")
        );
        assert_eq!(
            pick("other.example", RegistryAuth::default()).await,
            Credentials::Anonymous
        );
        // The policy sees the client's serveraddress as a host.
        let refs = held(
            "x",
            &auth("c", "https://index.docker.io/v1/"),
            &AdminCredentials::default(),
        )
        .refs;
        assert_eq!(refs[0].registry, "docker.io");
        assert_eq!(refs[0].source, CredentialSource::XRegistryAuth);
    }
}

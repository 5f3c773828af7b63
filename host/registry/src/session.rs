//! Every request berthd makes to a registry goes through a session: one
//! client that trusts the registry's `certs.d` roots, presents its client
//! certificate, and answers the registry's `WWW-Authenticate` challenge:
//! `Basic` with the credentials,
//! `Bearer` with a token from the challenge's realm for the scopes the
//! request needs (Docker's token authentication spec; distribution's
//! `registry/client/auth`), cached until it expires.
//!
//! The scopes are the caller's to name, because the registry's challenge
//! names only what it checked first: a mount needs `pull` on the source
//! repository as well as `pull,push` on the destination in the same token
//! (moby `distribution/push_v2.go` adds the source's scope to the token
//! for a mount), or the registry quietly opens an upload instead.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::challenge::{self, Challenge};
use crate::client::{Credentials, Registry};
use crate::error::{RegistryError, error_chain};
use crate::reference::ImageName;

/// distribution's client: a token without `expires_in` lives 60 s, and
/// one that says less is taken as 60 s too (`minimumTokenLifetimeSeconds`).
const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// A token is not used in its last seconds: it could expire in flight.
const TOKEN_MARGIN: Duration = Duration::from_secs(5);
/// The most of an error answer read for its envelope.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// Tokens and challenges learnt from registries, for [`Registry`].
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    /// What each registry host challenged with last.
    challenges: Mutex<HashMap<String, Challenge>>,
    /// Bearer tokens by realm, service, scopes and credentials.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    /// Held while a token is fetched: requests sent at once (a push's
    /// layers) wait for the first one's token rather than each fetch
    /// their own.
    fetching: tokio::sync::Mutex<()>,
}

/// The token endpoint's answer (Docker token spec, "Token Response
/// Fields"): `token`, or `access_token` as OAuth2 names it.
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A client for one registry host and credentials.
pub(crate) struct Session<'a> {
    registry: &'a Registry,
    http: reqwest::Client,
    host: String,
    /// `http://HOST` or `https://HOST`.
    pub(crate) base: String,
    credentials: &'a Credentials,
}

impl Registry {
    /// A session with the API of `registry` (`host[:port]`; Docker Hub's
    /// is `registry-1.docker.io`) using `credentials`.
    pub(crate) fn session<'a>(
        &'a self,
        registry: &str,
        credentials: &'a Credentials,
    ) -> Result<Session<'a>, RegistryError> {
        let host = match registry {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            other => other,
        };
        self.session_with(host, credentials)
    }

    /// A session with `host` itself (Docker Hub's search is on
    /// `index.docker.io`).
    pub(crate) fn session_with<'a>(
        &'a self,
        host: &str,
        credentials: &'a Credentials,
    ) -> Result<Session<'a>, RegistryError> {
        let hub = matches!(host, "registry-1.docker.io" | "index.docker.io");
        let scheme = if !hub && self.is_insecure(host) {
            "http"
        } else {
            "https"
        };
        Ok(Session {
            registry: self,
            http: self.http_client(host)?,
            host: host.to_owned(),
            base: format!("{scheme}://{host}"),
            credentials,
        })
    }
}

impl Registry {
    /// Checks `credentials` against `registry`'s `/v2/` with the challenge
    /// flow, as `docker login` asks the daemon to (moby
    /// `registry.loginV2`): a `Basic` challenge is answered with the
    /// credentials, a `Bearer` one at its realm's token endpoint. Returns
    /// the identity (refresh) token the token service gave, if any.
    pub async fn login(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<Option<String>, RegistryError> {
        let Credentials::Basic { username, password } = credentials else {
            return Err(RegistryError::Unauthorized {
                message: "a user name and password are needed to log in".into(),
            });
        };
        let host = match registry {
            "docker.io" | "index.docker.io" | "https://index.docker.io/v1/" => {
                "registry-1.docker.io"
            }
            other => other
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/'),
        };
        let session = self.session_with(host, credentials)?;
        let url = format!("{}/v2/", session.base);
        let transport = |e: reqwest::Error| {
            RegistryError::Transport(format!("Get {url:?}: {}", error_chain(&e)))
        };
        let first = session.http.get(&url).send().await.map_err(transport)?;
        if first.status().is_success() {
            return Ok(None);
        }
        let failed = |status: reqwest::StatusCode| RegistryError::Unauthorized {
            // moby's text (registry/auth.go, loginV2).
            message: format!("login attempt to {url} failed with status: {status}"),
        };
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Err(failed(first.status()));
        }
        let challenges = challenge::of_headers(first.headers());
        match challenge::preferred(&challenges) {
            Some(bearer) if bearer.scheme == "bearer" => {
                let realm = bearer.realm().ok_or_else(|| {
                    RegistryError::Transport(format!("{url}: bearer challenge without a realm"))
                })?;
                // No scope: the token only proves the password; the token
                // service's refresh token, if it gives one, is what the
                // client keeps instead of it.
                let mut query = vec![("account", username.as_str()), ("client_id", "berth")];
                if let Some(service) = bearer.service() {
                    query.push(("service", service));
                }
                let response = session
                    .http
                    .get(realm)
                    .query(&query)
                    .basic_auth(username, Some(password))
                    .send()
                    .await
                    .map_err(transport)?;
                if !response.status().is_success() {
                    return Err(RegistryError::Unauthorized {
                        message: "incorrect username or password".into(),
                    });
                }
                let body: serde_json::Value = response.json().await.map_err(transport)?;
                Ok(body["refresh_token"].as_str().map(str::to_owned))
            }
            Some(_basic) => {
                let response = session
                    .http
                    .get(&url)
                    .basic_auth(username, Some(password))
                    .send()
                    .await
                    .map_err(transport)?;
                if response.status().is_success() {
                    Ok(None)
                } else {
                    Err(failed(response.status()))
                }
            }
            None => Err(failed(first.status())),
        }
    }
}

impl Session<'_> {
    /// Sends the request `build` makes, authenticated for `scopes` (`type:name:actions`).
    /// A registry whose challenge is known gets the credentials (or a
    /// token) at once; otherwise the request goes out bare, and a 401 is
    /// answered by its challenge and the request sent once more.
    pub(crate) async fn send(
        &self,
        scopes: &[String],
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let known = self.known_challenge();
        let first = match &known {
            Some(c) => self.authorize(build(&self.http), c, scopes).await?,
            None => build(&self.http),
        };
        let response = first.send().await.map_err(|e| self.transport(&e))?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenges = challenge::of_headers(response.headers());
        let Some(challenge) = challenge::preferred(&challenges).cloned() else {
            return Ok(response);
        };
        // Answered already with what this challenge asks: the credentials
        // (or the token they give) are refused; a retry would be too.
        if known.as_ref() == Some(&challenge) {
            return Ok(response);
        }
        self.remember(&challenge);
        let mut wanted: Vec<String> = scopes.to_vec();
        if let Some(theirs) = challenge.params.get("scope") {
            wanted.extend(
                theirs
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        let retry = self
            .authorize(build(&self.http), &challenge, &wanted)
            .await?;
        retry.send().await.map_err(|e| self.transport(&e))
    }

    /// Sends the request `build` makes once, authenticated as the
    /// registry's last challenge asks: for a request whose body cannot be
    /// sent twice (an upload's stream). The request before it (the
    /// upload's `POST`) learnt the challenge; a 401 now is the answer.
    pub(crate) async fn send_once(
        &self,
        scopes: &[String],
        build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let request = match self.known_challenge() {
            Some(c) => self.authorize(build(&self.http), &c, scopes).await?,
            None => build(&self.http),
        };
        request.send().await.map_err(|e| self.transport(&e))
    }

    /// `BASE/v2/REPOSITORY/TAIL` for `name`'s repository.
    pub(crate) fn url(&self, name: &ImageName, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, name.repository())
    }

    /// The error a registry's answer that is not a success reports: the
    /// first of its error envelope (distribution spec "Error Codes"),
    /// else its status. At most [`MAX_ERROR_BODY`] bytes of it are read.
    pub(crate) async fn error(
        &self,
        reference: &str,
        response: reqwest::Response,
    ) -> RegistryError {
        let status = response.status();
        let body = crate::client::read_bounded(response, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        RegistryError::from_status(reference, status, &String::from_utf8_lossy(&body))
    }

    fn known_challenge(&self) -> Option<Challenge> {
        let known = self.registry.auth.challenges.lock();
        let known = known.unwrap_or_else(|p| p.into_inner());
        known.get(&self.host).cloned()
    }

    fn remember(&self, challenge: &Challenge) {
        let mut known = self
            .registry
            .auth
            .challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        known.insert(self.host.clone(), challenge.clone());
    }

    /// `request` with the answer to `challenge` for `scopes`.
    async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        challenge: &Challenge,
        scopes: &[String],
    ) -> Result<reqwest::RequestBuilder, RegistryError> {
        Ok(match (self.credentials, challenge.scheme.as_str()) {
            // A token the client holds goes as it is (X-Registry-Auth's
            // `registrytoken`).
            (Credentials::Token(t), _) => request.bearer_auth(t),
            (_, "bearer") => request.bearer_auth(self.token(challenge, scopes).await?),
            (Credentials::Basic { username, password }, _) => {
                request.basic_auth(username, Some(password))
            }
            (Credentials::Anonymous, _) => request,
        })
    }

    /// A token from `challenge`'s realm for `scopes`, from the cache while
    /// it lasts.
    async fn token(
        &self,
        challenge: &Challenge,
        scopes: &[String],
    ) -> Result<String, RegistryError> {
        let realm = challenge.realm().ok_or_else(|| {
            RegistryError::Transport(format!("{}: bearer challenge without a realm", self.host))
        })?;
        let service = challenge.service().unwrap_or_default();
        let scopes = merge_scopes(scopes);
        let key = format!(
            "{realm}\n{service}\n{}\n{}",
            scopes.join(" "),
            self.credentials.key()
        );
        let cached = || {
            let tokens = self.registry.auth.tokens.lock();
            let tokens = tokens.unwrap_or_else(|p| p.into_inner());
            tokens
                .get(&key)
                .filter(|(_, until)| Instant::now() < *until)
                .map(|(token, _)| token.clone())
        };
        if let Some(token) = cached() {
            return Ok(token);
        }
        let _fetching = self.registry.auth.fetching.lock().await;
        if let Some(token) = cached() {
            return Ok(token);
        }
        let mut query: Vec<(&str, &str)> = Vec::new();
        if !service.is_empty() {
            query.push(("service", service));
        }
        query.extend(scopes.iter().map(|s| ("scope", s.as_str())));
        let mut request = self.http.get(realm).query(&query);
        if let Credentials::Basic { username, password } = self.credentials {
            request = request
                .query(&[("account", username.as_str())])
                .basic_auth(username, Some(password));
        }
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                message: match self.credentials {
                    Credentials::Anonymous => "authentication required".into(),
                    _ => "incorrect username or password".into(),
                },
            });
        }
        if !status.is_success() {
            return Err(RegistryError::Transport(format!(
                "the token service of {} answered {status}",
                self.host
            )));
        }
        let body: TokenResponse = response.json().await.map_err(|e| self.transport(&e))?;
        let token = body
            .token
            .or(body.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                RegistryError::Transport(format!(
                    "the token service of {} sent no token",
                    self.host
                ))
            })?;
        let lifetime =
            Duration::from_secs(body.expires_in.unwrap_or_default()).max(MIN_TOKEN_LIFETIME);
        let until = Instant::now() + lifetime - TOKEN_MARGIN;
        let mut tokens = self
            .registry
            .auth
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, (_, until)| Instant::now() < *until);
        tokens.insert(key, (token.clone(), until));
        Ok(token)
    }

    pub(crate) fn transport(&self, e: &reqwest::Error) -> RegistryError {
        RegistryError::Transport(format!("{}: {}", self.host, error_chain(e)))
    }
}

/// `scopes` (`type:name:actions`) with one entry per resource and its
/// actions merged and sorted: the registry's challenge and the caller may
/// name the same resource (`pull,push` and `push,pull`), and the cache key
/// must not tell them apart.
fn merge_scopes(scopes: &[String]) -> Vec<String> {
    let mut merged: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for scope in scopes {
        let Some((kind, rest)) = scope.split_once(':') else {
            continue;
        };
        // A name may hold a colon (a registry's port); the actions are
        // after the last one.
        let Some((name, actions)) = rest.rsplit_once(':') else {
            continue;
        };
        merged
            .entry((kind, name))
            .or_default()
            .extend(actions.split(',').filter(|a| !a.is_empty()));
    }
    merged
        .into_iter()
        .map(|((kind, name), actions)| {
            format!(
                "{kind}:{name}:{}",
                actions.into_iter().collect::<Vec<_>>().join(",")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_of_one_resource_merge_their_actions() {
        let scopes = [
            "repository:alice/copy:pull,push",
            "repository:alice/base:pull",
            "repository:alice/copy:push,pull",
            "registry:catalog:*",
            "not-a-scope",
        ]
        .map(str::to_owned);
        assert_eq!(
            merge_scopes(&scopes),
            [
                "registry:catalog:*",
                "repository:alice/base:pull",
                "repository:alice/copy:pull,push",
            ]
        );
    }
}

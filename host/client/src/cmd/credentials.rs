//! Registry credentials kept client-side, as the docker CLI keeps them: a
//! `config.json` (`$DOCKER_CONFIG`, else `~/.docker`) whose `auths` map a
//! registry to `{"auth": base64("user:password")}`. Sent to the daemon as
//! `X-Registry-Auth` (base64url JSON of an `AuthConfig`).

use std::path::PathBuf;

use base64::Engine as _;

/// The key Docker Hub's credentials are stored under (docker CLI's
/// `registry.IndexServer`).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The credentials file.
pub fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The registry host of an image reference (`docker.io` when it has none):
/// the first path component if it looks like a host (docker's
/// `splitDockerDomain`).
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_owned()
        }
        _ => "docker.io".to_owned(),
    }
}

/// The key of `registry` in `auths`.
pub fn auths_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_owned(),
        other => other.to_owned(),
    }
}

/// The stored `(user, password)` for `registry`, if any.
pub fn stored(registry: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auth = config["auths"][auths_key(registry)]["auth"].as_str()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let (user, password) = String::from_utf8(raw)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    Some((user, password))
}

/// `X-Registry-Auth` for `(user, password)` at `registry`.
pub fn auth_header(registry: &str, user: &str, password: &str) -> String {
    let json = serde_json::json!({
        "username": user,
        "password": password,
        "serveraddress": auths_key(registry),
    });
    base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
}

/// The `X-Registry-Auth` header for pulling or pushing `reference`, from
/// the stored credentials of its registry.
pub fn registry_auth_header(reference: &str) -> Option<String> {
    let registry = registry_of(reference);
    let (user, password) = stored(&registry)?;
    Some(auth_header(&registry, &user, &password))
}

fn read_config(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not valid JSON: {e}", path.display()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the config file whole (temp file, mode 0600, rename), keeping
/// every key but the one changed.
fn write_config(path: &std::path::Path, config: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("bad config path"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(serde_json::to_string_pretty(config)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Stores `(user, password)` for `registry`, as `docker login` does.
pub fn store(registry: &str, user: &str, password: &str) -> anyhow::Result<PathBuf> {
    let path =
        config_path().ok_or_else(|| anyhow::anyhow!("neither DOCKER_CONFIG nor HOME is set"))?;
    let mut config = read_config(&path)?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if !config["auths"].is_object() {
        config["auths"] = serde_json::json!({});
    }
    config["auths"][auths_key(registry)] = serde_json::json!({ "auth": auth });
    write_config(&path, &config)?;
    Ok(path)
}

/// Removes the credentials of `registry`; whether there were any.
pub fn remove(registry: &str) -> anyhow::Result<bool> {
    let Some(path) = config_path() else {
        return Ok(false);
    };
    let mut config = read_config(&path)?;
    let removed = config["auths"]
        .as_object_mut()
        .is_some_and(|auths| auths.remove(&auths_key(registry)).is_some());
    if removed {
        write_config(&path, &config)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_found_as_the_docker_cli_finds_them() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("user/app:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/app"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("ghcr.io/o/app"), "ghcr.io");
        assert_eq!(auths_key("docker.io"), DOCKER_HUB_KEY);
    }
}

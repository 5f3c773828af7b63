//! `berth login` and `berth logout`: credentials checked by the daemon
//! (`POST /auth`) and kept client-side in the docker CLI's config file.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};

use super::credentials;
use crate::http::Client;

/// `berth login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]`.
pub async fn login(
    client: &Client,
    server: Option<&str>,
    user: Option<&str>,
    password: Option<&str>,
    password_stdin: bool,
) -> Result<i32> {
    let registry = server.unwrap_or("docker.io");
    if password.is_some() && password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    let user = match user {
        Some(u) => u.to_owned(),
        None if password_stdin => bail!("Must provide --username with --password-stdin"),
        None => prompt("Username: ")?,
    };
    let password = match password {
        Some(p) => p.to_owned(),
        None if password_stdin => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
        None => prompt("Password: ")?,
    };
    let body = serde_json::json!({
        "username": user,
        "password": password,
        "serveraddress": credentials::auths_key(registry),
    });
    let reply: serde_json::Value = client.post_json("/auth", &body).await?;
    let path = credentials::store(registry, &user, &password)?;
    eprintln!("Credentials are stored in {}", path.display());
    println!("{}", reply["Status"].as_str().unwrap_or("Login Succeeded"));
    Ok(0)
}

fn prompt(label: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("Cannot perform an interactive login from a non TTY device");
    }
    eprint!("{label}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// `berth logout [SERVER]`.
pub fn logout(server: Option<&str>) -> Result<i32> {
    let registry = server.unwrap_or("docker.io");
    let key = credentials::auths_key(registry);
    if credentials::remove(registry)? {
        println!("Removing login credentials for {key}");
    } else {
        println!("Not logged in to {key}");
    }
    Ok(0)
}

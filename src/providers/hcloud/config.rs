//! Client configuration and the API token.

use std::fmt;
use std::time::Duration;

use super::actions::PollPolicy;
use super::error::HcloudError;
use super::ratelimit::PacingPolicy;
use super::retry::RetryPolicy;

/// The public endpoint; `HCLOUD_ENDPOINT` overrides it (same variable as the official CLI).
pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";
/// Environment variable holding the project API token.
pub const TOKEN_ENV: &str = "HCLOUD_TOKEN";
/// Environment variable overriding the endpoint.
pub const ENDPOINT_ENV: &str = "HCLOUD_ENDPOINT";

/// An API token. It cannot be printed, logged or serialised: `Debug` and `Display` are redacted and
/// there is no `Serialize`. The only way out is [`SecretToken::expose`], used when building the header.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// Wraps a token, refusing values that cannot travel in an HTTP header.
    pub fn new(token: impl Into<String>) -> Result<Self, HcloudError> {
        let token = token.into();
        let trimmed = token.trim();
        if trimmed.is_empty() {
            return Err(HcloudError::MissingToken);
        }
        // A header value must be visible ASCII; say so without echoing the value back.
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HcloudError::InvalidToken);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything the client needs. Construct with [`ClientConfig::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL including the version, without trailing slash, e.g. `https://api.hetzner.cloud/v1`.
    pub endpoint: String,
    pub token: SecretToken,
    pub retry: RetryPolicy,
    pub action_poll: PollPolicy,
    pub pacing: PacingPolicy,
    pub user_agent: String,
    /// Timeout of one HTTP attempt (connect + request + response body).
    pub timeout: Duration,
    /// Optional hard cap on the number of HTTP requests this client may send; requests beyond it fail
    /// with [`HcloudError::RequestBudgetExhausted`] instead of eating into the project's hourly budget.
    pub request_budget: Option<u64>,
}

impl ClientConfig {
    /// Defaults for everything but the token: the public endpoint, official-client retry policy,
    /// exponential action polling, pacing below 10% of the budget.
    pub fn new(token: SecretToken) -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            token,
            retry: RetryPolicy::default(),
            action_poll: PollPolicy::default(),
            pacing: PacingPolicy::default(),
            user_agent: format!("sovstack/{}", env!("CARGO_PKG_VERSION")),
            timeout: Duration::from_secs(60),
            request_budget: None,
        }
    }

    /// Reads `HCLOUD_TOKEN` (required) and `HCLOUD_ENDPOINT` (optional).
    pub fn from_env() -> Result<Self, HcloudError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Same as [`ClientConfig::from_env`] with an injectable lookup, so tests need not mutate the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, HcloudError> {
        let token = lookup(TOKEN_ENV).ok_or(HcloudError::MissingToken)?;
        let mut config = Self::new(SecretToken::new(token)?);
        if let Some(endpoint) = lookup(ENDPOINT_ENV).filter(|e| !e.trim().is_empty()) {
            config.endpoint = endpoint;
        }
        config.endpoint = normalize_endpoint(&config.endpoint)?;
        Ok(config)
    }
}

/// Checks the endpoint is an http(s) URL and strips trailing slashes so paths join cleanly.
pub(crate) fn normalize_endpoint(endpoint: &str) -> Result<String, HcloudError> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| HcloudError::InvalidEndpoint {
        endpoint: trimmed.to_owned(),
        reason: e.to_string(),
    })?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(HcloudError::InvalidEndpoint {
            endpoint: trimmed.to_owned(),
            reason: format!("scheme `{}` is not http or https", parsed.scheme()),
        });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(HcloudError::InvalidEndpoint {
            endpoint: trimmed.to_owned(),
            reason: "must not contain a query or fragment".to_owned(),
        });
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn token_never_prints() {
        let token = SecretToken::new("abcdef0123456789").unwrap();
        assert_eq!(format!("{token}"), "<redacted>");
        assert!(!format!("{token:?}").contains("abcdef"));
        let config = ClientConfig::new(token);
        assert!(!format!("{config:?}").contains("abcdef"));
        assert!(!format!("{config:#?}").contains("abcdef"));
    }

    #[test]
    fn token_is_trimmed_and_checked_without_echo() {
        assert_eq!(SecretToken::new("  tok \n").unwrap().expose(), "tok");
        assert!(matches!(
            SecretToken::new("   "),
            Err(HcloudError::MissingToken)
        ));
        let err = SecretToken::new("to ken-secretpart").unwrap_err();
        assert!(matches!(err, HcloudError::InvalidToken));
        assert!(!err.to_string().contains("secretpart"));
    }

    #[test]
    fn env_defaults_and_override() {
        let c = ClientConfig::from_lookup(lookup(&[("HCLOUD_TOKEN", "t")])).unwrap();
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        let c = ClientConfig::from_lookup(lookup(&[
            ("HCLOUD_TOKEN", "t"),
            ("HCLOUD_ENDPOINT", "http://127.0.0.1:8080/v1/"),
        ]))
        .unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:8080/v1");
        assert!(matches!(
            ClientConfig::from_lookup(lookup(&[])),
            Err(HcloudError::MissingToken)
        ));
        assert!(matches!(
            ClientConfig::from_lookup(lookup(&[
                ("HCLOUD_TOKEN", "t"),
                ("HCLOUD_ENDPOINT", "ftp://x")
            ])),
            Err(HcloudError::InvalidEndpoint { .. })
        ));
    }
}

//! How bearer tokens are verified: the algorithm and key, issuer and audience, the longest a
//! token may live and the clock skew tolerated.

use std::{path::PathBuf, time::Duration};

use super::{optional, parsed, required, var, ConfigError, Secret, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    EdDsa,
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HS256" => Ok(JwtAlgorithm::Hs256),
            "RS256" => Ok(JwtAlgorithm::Rs256),
            "EdDSA" => Ok(JwtAlgorithm::EdDsa),
            other => Err(format!("`{other}` is not one of HS256, RS256, EdDSA")),
        }
    }
}

#[derive(Debug, Clone)]
pub enum JwtKey {
    /// HS256 shared secret.
    Secret(Secret),
    /// PEM public key for RS256 / EdDSA.
    PublicKeyPem { path: PathBuf, pem: Vec<u8> },
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub algorithm: JwtAlgorithm,
    pub key: JwtKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Longest a token may live (`JWT_MAX_LIFETIME_SECS`): `exp − iat`, or `exp − now` for a
    /// token without `iat`. A token good until the year 9999 is a stolen token forever.
    pub max_lifetime: Duration,
    /// Clock skew tolerated on `exp` and `nbf` (`JWT_LEEWAY_SECS`).
    pub leeway: Duration,
}

/// `JWT_MAX_LIFETIME_SECS` unless set: a day.
pub const DEFAULT_JWT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

impl JwtConfig {
    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let algorithm: JwtAlgorithm = parsed(src, "JWT_ALGORITHM", JwtAlgorithm::Hs256)?;
        let key = match algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = required(src, "JWT_SECRET")?;
                // RFC 7518 §3.2: an HS256 key must be at least as long as the hash (32 bytes).
                if secret.len() < 32 {
                    return Err(ConfigError::invalid(
                        "JWT_SECRET",
                        "must be at least 32 bytes for HS256",
                    ));
                }
                JwtKey::Secret(Secret::new(secret))
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::EdDsa => {
                let path = PathBuf::from(required(src, "JWT_PUBLIC_KEY_FILE")?);
                let pem = std::fs::read(&path).map_err(|e| {
                    ConfigError::invalid("JWT_PUBLIC_KEY_FILE", format!("{}: {e}", path.display()))
                })?;
                JwtKey::PublicKeyPem { path, pem }
            }
        };
        let max_lifetime = match optional::<u64>(src, "JWT_MAX_LIFETIME_SECS")? {
            None => DEFAULT_JWT_MAX_LIFETIME,
            Some(0) => {
                return Err(ConfigError::invalid(
                    "JWT_MAX_LIFETIME_SECS",
                    "must be at least 1 second",
                ))
            }
            Some(secs) => Duration::from_secs(secs),
        };
        Ok(JwtConfig {
            algorithm,
            key,
            issuer: var(src, "JWT_ISSUER"),
            audience: var(src, "JWT_AUDIENCE"),
            max_lifetime,
            leeway: Duration::from_secs(parsed(src, "JWT_LEEWAY_SECS", 30)?),
        })
    }
}

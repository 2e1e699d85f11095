//! JWT bearer tokens → `Viewer`. Tokens come from the SPA's identity provider; Tollgate only
//! verifies them (and mints development tokens with `tollgate token`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{JwtAlgorithm, JwtConfig, JwtKey};

/// Who is calling. `user_id` is the token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: String,
    pub email: Option<String>,
    pub roles: Vec<String>,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    /// A string or an array of strings (RFC 7519 §4.1.3); checked by `jsonwebtoken` when an
    /// audience is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the Authorization header must be `Bearer <token>`")]
    MalformedHeader,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("JWT key: {0}")]
    Key(String),
}

/// Clock skew tolerated on `exp`/`nbf`.
const LEEWAY_SECS: u64 = 30;
/// User ids longer than this are refused: they end up in indexes and logs.
const MAX_SUB_LEN: usize = 255;

#[derive(Clone)]
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("algorithms", &self.validation.algorithms)
            .finish()
    }
}

fn algorithm(a: JwtAlgorithm) -> Algorithm {
    match a {
        JwtAlgorithm::Hs256 => Algorithm::HS256,
        JwtAlgorithm::Rs256 => Algorithm::RS256,
        JwtAlgorithm::EdDsa => Algorithm::EdDSA,
    }
}

impl Authenticator {
    pub fn new(config: &JwtConfig) -> Result<Self, AuthError> {
        let alg = algorithm(config.algorithm);
        let key = match (&config.key, config.algorithm) {
            (JwtKey::Secret(s), JwtAlgorithm::Hs256) => {
                DecodingKey::from_secret(s.expose().as_bytes())
            }
            (JwtKey::PublicKeyPem { pem, .. }, JwtAlgorithm::Rs256) => {
                DecodingKey::from_rsa_pem(pem).map_err(|e| AuthError::Key(e.to_string()))?
            }
            (JwtKey::PublicKeyPem { pem, .. }, JwtAlgorithm::EdDsa) => {
                DecodingKey::from_ed_pem(pem).map_err(|e| AuthError::Key(e.to_string()))?
            }
            _ => return Err(AuthError::Key("key does not match JWT_ALGORITHM".into())),
        };
        // Only the configured algorithm: a token signed with HS256 using the public key as the
        // secret, or with `alg: none`, never verifies.
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // A configured issuer or audience is required, not merely checked when present: a
        // token minted for another service without `aud` must not pass here.
        let mut required = vec!["exp", "sub"];
        match &config.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &config.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Authenticator { key, validation })
    }

    /// Verifies a raw token.
    pub fn verify(&self, token: &str) -> Result<Viewer, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        let claims = data.claims;
        if !valid_subject(&claims.sub) {
            return Err(AuthError::InvalidToken(
                "sub must be 1 to 255 printable characters".into(),
            ));
        }
        Ok(Viewer {
            user_id: claims.sub,
            email: claims.email,
            roles: claims.roles,
        })
    }

    /// Verifies an `Authorization` header value. `Ok(None)` when there is no header.
    pub fn from_header(&self, header: Option<&str>) -> Result<Option<Viewer>, AuthError> {
        let Some(value) = header else { return Ok(None) };
        let token = bearer_token(value).ok_or(AuthError::MalformedHeader)?;
        self.verify(token).map(Some)
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 7235 §2.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// The credential a WebSocket client sends in `connection_init`, as an `Authorization` value.
/// The shapes GraphQL clients document: `{"Authorization": "Bearer T"}` (any case, with or
/// without the scheme), `{"headers": {"Authorization": …}}`, `{"token": "T"}` and Apollo's
/// `{"authToken": "T"}`.
pub fn token_from_connection_params(params: &serde_json::Value) -> Option<String> {
    let field = |map: &serde_json::Value| {
        map.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    };
    let raw = field(params)
        .or_else(|| params.get("headers").and_then(field))
        .or_else(|| {
            ["token", "authToken"]
                .iter()
                .find_map(|k| params.get(*k).and_then(|v| v.as_str()))
                .map(str::to_owned)
        })?;
    Some(if bearer_token(&raw).is_some() {
        raw
    } else {
        format!("Bearer {raw}")
    })
}

/// A user id goes into indexes, logs and Stripe metadata: bounded and printable, no control
/// characters (a newline in a log line forges the next one).
fn valid_subject(sub: &str) -> bool {
    !sub.is_empty()
        && sub.len() <= MAX_SUB_LEN
        && !sub.chars().any(|c| c.is_control())
        && sub.trim() == sub
}

/// Mints a development token with the configured HS256 secret.
pub fn mint(
    config: &JwtConfig,
    sub: &str,
    email: Option<&str>,
    admin: bool,
    ttl: Duration,
) -> Result<String, AuthError> {
    let JwtKey::Secret(secret) = &config.key else {
        return Err(AuthError::Key(
            "minting tokens needs JWT_ALGORITHM=HS256 and JWT_SECRET (Tollgate never holds private keys)"
                .into(),
        ));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = Claims {
        sub: sub.to_string(),
        exp: now + ttl.as_secs(),
        iat: Some(now),
        email: email.map(str::to_owned),
        roles: if admin { vec!["admin".into()] } else { vec![] },
        iss: config.issuer.clone(),
        aud: config.audience.clone().map(Audience::One),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| AuthError::Key(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn hs(issuer: Option<&str>, audience: Option<&str>) -> JwtConfig {
        JwtConfig {
            algorithm: JwtAlgorithm::Hs256,
            key: JwtKey::Secret(Secret::new("0123456789abcdef0123456789abcdef")),
            issuer: issuer.map(Into::into),
            audience: audience.map(Into::into),
        }
    }

    #[test]
    fn minted_tokens_verify() {
        let cfg = hs(Some("idp"), Some("tollgate"));
        let token = mint(
            &cfg,
            "u1",
            Some("u1@example.com"),
            true,
            Duration::from_secs(60),
        )
        .expect("mints");
        let viewer = Authenticator::new(&cfg)
            .expect("auth")
            .verify(&token)
            .expect("valid");
        assert_eq!(viewer.user_id, "u1");
        assert!(viewer.is_admin());
        assert_eq!(viewer.email.as_deref(), Some("u1@example.com"));
    }

    #[test]
    fn wrong_issuer_audience_or_secret_is_rejected() {
        let token = mint(
            &hs(Some("idp"), Some("tollgate")),
            "u1",
            None,
            false,
            Duration::from_secs(60),
        )
        .expect("mints");
        for cfg in [
            hs(Some("other"), Some("tollgate")),
            hs(Some("idp"), Some("other")),
        ] {
            assert!(Authenticator::new(&cfg)
                .expect("auth")
                .verify(&token)
                .is_err());
        }
        let other_secret = JwtConfig {
            key: JwtKey::Secret(Secret::new("another-secret-another-secret-xx")),
            ..hs(Some("idp"), Some("tollgate"))
        };
        assert!(Authenticator::new(&other_secret)
            .expect("auth")
            .verify(&token)
            .is_err());
    }

    fn hs_token(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("encode")
    }

    fn exp() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 600
    }

    #[test]
    fn configured_issuer_and_audience_are_required() {
        let auth = Authenticator::new(&hs(Some("idp"), Some("tollgate"))).expect("auth");
        let no_aud = hs_token(serde_json::json!({"sub": "u1", "exp": exp(), "iss": "idp"}));
        let no_iss = hs_token(serde_json::json!({"sub": "u1", "exp": exp(), "aud": "tollgate"}));
        assert!(auth.verify(&no_aud).is_err(), "token without aud accepted");
        assert!(auth.verify(&no_iss).is_err(), "token without iss accepted");
        let both = hs_token(
            serde_json::json!({"sub": "u1", "exp": exp(), "iss": "idp", "aud": "tollgate"}),
        );
        assert!(auth.verify(&both).is_ok());
    }

    #[test]
    fn audience_may_be_an_array() {
        let auth = Authenticator::new(&hs(None, Some("tollgate"))).expect("auth");
        let listed =
            hs_token(serde_json::json!({"sub": "u1", "exp": exp(), "aud": ["other", "tollgate"]}));
        assert!(auth.verify(&listed).is_ok());
        let not_listed = hs_token(serde_json::json!({"sub": "u1", "exp": exp(), "aud": ["other"]}));
        assert!(auth.verify(&not_listed).is_err());
        // Without a configured audience any `aud` shape is accepted.
        let open = Authenticator::new(&hs(None, None)).expect("auth");
        assert!(open.verify(&listed).is_ok());
    }

    #[test]
    fn subject_must_be_printable() {
        let auth = Authenticator::new(&hs(None, None)).expect("auth");
        for sub in ["u1\nadmin", "u1\u{0}", " u1", "", "\u{7f}"] {
            let token = hs_token(serde_json::json!({"sub": sub, "exp": exp()}));
            assert!(auth.verify(&token).is_err(), "{sub:?} accepted");
        }
        let long = hs_token(serde_json::json!({"sub": "x".repeat(256), "exp": exp()}));
        assert!(auth.verify(&long).is_err());
    }

    #[test]
    fn websocket_connection_params_in_the_common_shapes() {
        use serde_json::json;
        for params in [
            json!({"Authorization": "Bearer T1"}),
            json!({"authorization": "bearer T1"}),
            json!({"Authorization": "T1"}),
            json!({"headers": {"Authorization": "Bearer T1"}}),
            json!({"headers": {"authorization": "T1"}}),
            json!({"token": "T1"}),
            json!({"authToken": "T1"}),
        ] {
            let got = token_from_connection_params(&params);
            assert_eq!(
                got.as_deref().and_then(bearer_token),
                Some("T1"),
                "{params}"
            );
        }
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cy11c2VyIn0.Zw9hvvngCI";
        assert_eq!(
            token_from_connection_params(&json!({"authorization": jwt})),
            Some(format!("Bearer {jwt}"))
        );
        assert_eq!(token_from_connection_params(&json!({})), None);
        assert_eq!(token_from_connection_params(&json!({"token": 5})), None);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("bEaReR   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    #[test]
    fn header_forms() {
        let cfg = hs(None, None);
        let auth = Authenticator::new(&cfg).expect("auth");
        assert_eq!(
            auth.from_header(None).expect("none").map(|v| v.user_id),
            None
        );
        assert!(matches!(
            auth.from_header(Some("Basic abc")),
            Err(AuthError::MalformedHeader)
        ));
        assert!(matches!(
            auth.from_header(Some("Bearer ")),
            Err(AuthError::MalformedHeader)
        ));
        let token = mint(&cfg, "u2", None, false, Duration::from_secs(60)).expect("mints");
        let viewer = auth
            .from_header(Some(&format!("Bearer {token}")))
            .expect("ok");
        assert_eq!(viewer.map(|v| v.user_id).as_deref(), Some("u2"));
    }
}

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
    /// The token's `email` when it is a plausible address (see `plausible_email`).
    pub email: Option<String>,
    pub roles: Vec<String>,
    /// When the token stops being accepted (the second after `exp` plus the leeway, as
    /// `jsonwebtoken` counts): a WebSocket session opened with it ends then.
    pub valid_until: SystemTime,
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

/// User ids longer than this are refused: they end up in indexes and logs.
const MAX_SUB_LEN: usize = 255;

#[derive(Clone)]
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
    max_lifetime: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    leeway: u64,
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
        validation.leeway = config.leeway.as_secs();
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
        Ok(Authenticator {
            key,
            validation,
            max_lifetime: config.max_lifetime,
            leeway: config.leeway.as_secs(),
        })
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
        self.check_lifetime(&claims, unix_now())?;
        let email = claims.email.filter(|e| {
            let plausible = plausible_email(e);
            if !plausible {
                // Never sent to Stripe or shown: an address with a CRLF in it is a header.
                tracing::info!(sub = %claims.sub, "ignoring an implausible email claim");
            }
            plausible
        });
        Ok(Viewer {
            user_id: claims.sub,
            email,
            roles: claims.roles,
            valid_until: UNIX_EPOCH
                + Duration::from_secs(claims.exp.saturating_add(self.leeway).saturating_add(1)),
        })
    }

    /// A token may live at most `max_lifetime`: from `iat` when it has one (which must not be
    /// in the future), else from now. `exp` itself is checked by `jsonwebtoken`.
    fn check_lifetime(&self, claims: &Claims, now: u64) -> Result<(), AuthError> {
        let max = self.max_lifetime.as_secs();
        let lifetime = match claims.iat {
            Some(iat) if iat > now.saturating_add(self.leeway) => {
                return Err(AuthError::InvalidToken("iat is in the future".into()))
            }
            Some(iat) => claims.exp.saturating_sub(iat),
            None => claims.exp.saturating_sub(now),
        };
        if lifetime > max {
            return Err(AuthError::InvalidToken(format!(
                "the token lives longer than the {max} s allowed"
            )));
        }
        Ok(())
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Characters that change how text looks or reads without being seen: controls (Cc: a newline
/// in a log line forges the next one), format characters (Cf: U+200B makes `ali\u{200b}ce` look
/// like `alice`, U+202E reverses what follows) and the line and paragraph separators.
fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// A user id goes into indexes, logs, admin views and Stripe metadata: bounded, no invisible
/// characters, no surrounding space.
fn valid_subject(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= MAX_SUB_LEN && !sub.chars().any(invisible) && sub.trim() == sub
}

/// Longest address SMTP carries (RFC 5321 §4.5.3.1.3 path limit, less the brackets).
const MAX_EMAIL_LEN: usize = 254;

/// Whether an `email` claim looks like one mailbox: `local@domain`, no spaces, controls,
/// invisible characters or the specials that make headers or lists of it (`<>()[],;:\"`), a
/// domain of at least two dot-separated labels of letters, digits and inner hyphens. Not RFC
/// 5322's whole grammar (quoted local parts are refused): enough that what reaches Stripe is
/// an address and nothing else.
pub fn plausible_email(email: &str) -> bool {
    if email.len() > MAX_EMAIL_LEN {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !invisible(c) && !"<>()[],;:\\\"@".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
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
            max_lifetime: crate::config::DEFAULT_JWT_MAX_LIFETIME,
            leeway: Duration::from_secs(30),
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
    fn subject_refuses_invisible_characters() {
        let auth = Authenticator::new(&hs(None, None)).expect("auth");
        // Format characters (zero-width space, joiners, bidi overrides and isolates, the BOM,
        // soft hyphen, a tag character), line and paragraph separators, C1 controls.
        for sub in [
            "ali\u{200b}ce",
            "ali\u{200d}ce",
            "\u{202e}ecila",
            "a\u{2066}b",
            "\u{feff}alice",
            "al\u{ad}ice",
            "alice\u{e0041}",
            "ali\u{2028}ce",
            "ali\u{2029}ce",
            "ali\u{85}ce",
        ] {
            let token = hs_token(serde_json::json!({"sub": sub, "exp": exp()}));
            assert!(auth.verify(&token).is_err(), "{sub:?} accepted");
        }
        // Letters of any script, and inner spaces, are fine.
        for sub in ["앨리스", "alice smith", "u-42|google"] {
            let token = hs_token(serde_json::json!({"sub": sub, "exp": exp()}));
            assert!(auth.verify(&token).is_ok(), "{sub:?} refused");
        }
    }

    #[test]
    fn lifetime_is_bounded_from_iat_or_from_now() {
        let cfg = JwtConfig {
            max_lifetime: Duration::from_secs(3_600),
            ..hs(None, None)
        };
        let auth = Authenticator::new(&cfg).expect("auth");
        let now = unix_now();
        let verify = |claims: serde_json::Value| auth.verify(&hs_token(claims));
        // The year 9999.
        assert!(verify(serde_json::json!({"sub": "u", "exp": 253_402_300_799_u64})).is_err());
        assert!(
            verify(serde_json::json!({"sub": "u", "exp": 253_402_300_799_u64, "iat": now}))
                .is_err()
        );
        assert!(verify(serde_json::json!({"sub": "u", "exp": now + 3_000})).is_ok());
        assert!(verify(serde_json::json!({"sub": "u", "exp": now + 3_000, "iat": now})).is_ok());
        // Issued two hours ago for three: too long, even with only an hour left.
        let iat = now - 7_200;
        assert!(verify(serde_json::json!({"sub": "u", "exp": iat + 10_800, "iat": iat})).is_err());
        // Issued in the future.
        assert!(
            verify(serde_json::json!({"sub": "u", "exp": now + 3_000, "iat": now + 600})).is_err()
        );
        // The session ends where the token does, leeway included.
        let viewer = verify(serde_json::json!({"sub": "u", "exp": now + 100})).expect("valid");
        assert_eq!(
            viewer.valid_until,
            UNIX_EPOCH + Duration::from_secs(now + 100 + 30 + 1)
        );
    }

    #[test]
    fn implausible_emails_are_ignored() {
        let auth = Authenticator::new(&hs(None, None)).expect("auth");
        for email in [
            "x@y\r\nBcc: z@w",
            "x@y.com\nBcc: z@w.com",
            "a b@example.com",
            "<a@example.com>",
            "a@example.com, b@example.com",
            "alice",
            "@example.com",
            "a@",
            "a@localhost",
            "a@exa_mple.com",
            "a@-example.com",
            "ali\u{200b}ce@example.com",
            "\"quoted\"@example.com",
        ] {
            let token = hs_token(serde_json::json!({"sub": "u1", "exp": exp(), "email": email}));
            let viewer = auth.verify(&token).expect("the token itself is fine");
            assert_eq!(viewer.email, None, "{email:?} kept");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(!plausible_email(&long));
        for email in [
            "a@example.com",
            "first.last+tag@mail.example.co.kr",
            "김@예시.한국",
        ] {
            assert!(plausible_email(email), "{email:?} refused");
        }
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

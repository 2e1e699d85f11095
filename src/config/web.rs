//! The browser face's settings: where the SPA's build is, and GraphiQL's demo token.

use std::path::PathBuf;

use super::{var, ConfigError, Secret, Source};

/// The browser face: where the SPA's build is, and what the demo pre-fills in GraphiQL.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The built SPA (`web/dist`), served at `/`; None: not served (`WEB_DIR=off`). GraphiQL's
    /// page and assets come from the same build.
    pub dir: Option<PathBuf>,
    /// A token GraphiQL starts with in its Authorization header. For the local demo only: it is
    /// handed to anyone who loads the page.
    pub graphiql_token: Option<Secret>,
}

pub const DEFAULT_WEB_DIR: &str = "web/dist";

impl WebConfig {
    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let dir = match var(src, "WEB_DIR") {
            Some(v) if v.eq_ignore_ascii_case("off") => None,
            Some(v) => Some(PathBuf::from(v)),
            None => Some(PathBuf::from(DEFAULT_WEB_DIR)),
        };
        let graphiql_token = var(src, "GRAPHIQL_DEFAULT_TOKEN");
        if let Some(t) = &graphiql_token {
            // It ends up in a JSON header map and an HTTP header: plain token characters only.
            if !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(ConfigError::invalid(
                    "GRAPHIQL_DEFAULT_TOKEN",
                    "expected a JWT (letters, digits, `-`, `_`, `.`)",
                ));
            }
        }
        Ok(WebConfig {
            dir,
            graphiql_token: graphiql_token.map(Secret::new),
        })
    }
}

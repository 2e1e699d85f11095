//! A database of the test's own: a SQLite temp file, or a new PostgreSQL database on the
//! server `TEST_DATABASE_URL` names.

use sea_orm::{ConnectionTrait, Database};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of the test's own.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// For PostgreSQL: the server's maintenance URL and our database's name.
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn fresh() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let mut url = reqwest::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDb {
                    url: url.to_string(),
                    backend: Backend::Postgres,
                    admin: Some((admin_url, name)),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/tollgate.db?mode=rwc", dir.path().display());
                TestDb {
                    url,
                    backend: Backend::Sqlite,
                    admin: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// Drops the database out from under whoever is connected (PostgreSQL only).
    pub async fn drop_database(&self) {
        if let Some((admin_url, name)) = &self.admin {
            let admin = Database::connect(admin_url).await.expect("connect admin");
            admin
                .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                .await
                .expect("drop database");
            admin.close().await.ok();
        }
    }
}

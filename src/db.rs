//! Database connection and migrations, the same on SQLite and PostgreSQL.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    TransactionTrait,
};

/// Connects to `url`. SQLite files are created on first use (`mode=rwc` by default) and run in
/// WAL mode so readers never wait for the writer.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let pool = if url.starts_with("sqlite:") { 8 } else { 20 };
    connect_with(url, pool).await
}

async fn connect_with(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let url = if url.starts_with("sqlite:") && !url.contains("mode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_string()
    };
    let is_sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // Ping only a connection that sat idle long enough for a server restart, a proxy or a
        // firewall to have dropped it: pinging on every checkout (sqlx's default) cost each
        // request one round trip per statement. A hot connection that has died still fails
        // its statement, and the pool replaces it.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .sqlx_logging(std::env::var_os("TOLLGATE_SQL_LOG").is_some());
    if is_sqlite {
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    let mut db = Database::connect(options).await?;
    if crate::telemetry::exporting() {
        // Each statement as a span of the trace it runs in (none outside a trace).
        db.set_metric_callback(crate::telemetry::spans::statement);
    }
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Advisory-lock key of migrations ("tg" + "mi"), apart from the webhook worker's keys.
const MIGRATION_LOCK: i64 = 0x7467_6d69;

/// Applies pending migrations over a connection of its own, closed afterwards. Pools should be
/// opened after this: a SQLite connection that cached the schema mid-migration can fail to
/// prepare an upsert against an index created later ("ON CONFLICT clause does not match").
///
/// On PostgreSQL the run holds a session advisory lock, so any number of `tollgate migrate`
/// jobs and starting replicas may run at once: one migrates, the others wait and then find
/// nothing pending. (Without it, two runs both create `seaql_migrations` and one fails.) The
/// pool has one connection, so the migrator's transaction runs on the session holding it.
/// SQLite serves one process: runs within it take turns (two at once would meet SQLite's
/// lock-upgrade deadlock, "database is locked", which its busy timeout does not wait out).
pub async fn migrate_url(url: &str) -> Result<(), DbErr> {
    static SQLITE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = if url.starts_with("sqlite:") {
        Some(SQLITE_TURN.lock().await)
    } else {
        None
    };
    let db = connect_with(url, 1).await?;
    let result = if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .await?;
        let migrated = migrate(&db).await;
        let unlocked = db
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            .await;
        migrated.and(unlocked.map(|_| ()))
    } else {
        migrate(&db).await
    };
    let closed = db.close().await;
    result.and(closed)
}

/// Names of the migrations this binary knows that `url`'s database has not applied, for a
/// replica started with `MIGRATE_ON_START=false`: it refuses to serve an older schema.
pub async fn pending_migrations(url: &str) -> Result<Vec<String>, DbErr> {
    let db = connect_with(url, 1).await?;
    let pending = Migrator::get_pending_migrations(&db).await;
    let closed = db.close().await;
    let names = pending?.iter().map(|m| m.name().to_owned()).collect();
    closed.map(|()| names)
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

/// Tasks now inside `begin`: waiting for a pooled connection (and its `BEGIN`).
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Opens a transaction, counted by `waiting_for_connection` until it has its connection.
/// sqlx keeps its queue of waiters to itself, so Tollgate counts the acquires it makes here:
/// every transaction it opens (webhook worker, refunds, sync) goes through this function.
/// Single statements acquire inside SeaORM, uncounted; a pool they exhaust still shows as
/// `in_use` at the maximum and as transactions waiting here.
pub async fn begin<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            WAITING.fetch_sub(1, Ordering::Relaxed);
        }
    }
    WAITING.fetch_add(1, Ordering::Relaxed);
    let _waiting = Waiting;
    db.begin().await
}

/// How many tasks of this process wait in `begin` right now.
pub fn waiting_for_connection() -> usize {
    WAITING.load(Ordering::Relaxed)
}

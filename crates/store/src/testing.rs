//! Fresh databases for tests: a SQLite file in its own temporary folder, or a PostgreSQL schema
//! of its own, so tests run in parallel and never see each other's data.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Where the PostgreSQL pass connects; trust auth on the development machines and CI.
pub fn postgres_admin_url() -> String {
    std::env::var("SHEQU_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A database that exists for one test and is removed when dropped.
pub struct TestDatabase {
    pub url: String,
    /// The data directory the test's server uses (holds the SQLite file for SQLite).
    pub data_dir: PathBuf,
    schema: Option<String>,
    /// A whole PostgreSQL database of its own (for pg_dump and pg_restore, which work on
    /// databases, not schemas).
    database: Option<String>,
}

impl TestDatabase {
    pub fn sqlite() -> TestDatabase {
        let data_dir = std::env::temp_dir().join(unique_name("shequ_test"));
        let _ = std::fs::create_dir_all(&data_dir);
        TestDatabase {
            url: format!("sqlite://{}?mode=rwc", data_dir.join("shequ.db").display()),
            data_dir,
            schema: None,
            database: None,
        }
    }

    /// A fresh PostgreSQL database of its own, or None as [`TestDatabase::postgres`].
    pub async fn postgres_database() -> Option<TestDatabase> {
        let admin = postgres_admin_url();
        let mut conn = admin_connection(&admin).await?;
        let name = unique_name("db");
        let create = format!("CREATE DATABASE {name}");
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await
        {
            panic!("cannot create test database: {e}");
        }
        let data_dir = std::env::temp_dir().join(unique_name("shequ_test_pgdb"));
        let _ = std::fs::create_dir_all(&data_dir);
        Some(TestDatabase {
            url: database_url(&admin, &name),
            data_dir,
            schema: None,
            database: Some(name),
        })
    }

    /// A fresh schema on the test PostgreSQL, or None (with a printed notice) when it cannot be
    /// reached, so the suite still passes on a machine without PostgreSQL. Set
    /// SHEQU_REQUIRE_POSTGRES=1 (as .ci/run does) to make its absence a failure instead.
    pub async fn postgres() -> Option<TestDatabase> {
        let admin = postgres_admin_url();
        let mut conn = admin_connection(&admin).await?;
        let schema = unique_name("t");
        let create = format!("CREATE SCHEMA {schema}");
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&mut conn)
            .await
        {
            panic!("cannot create test schema: {e}");
        }
        let separator = if admin.contains('?') { '&' } else { '?' };
        let data_dir = std::env::temp_dir().join(unique_name("shequ_test_pg"));
        let _ = std::fs::create_dir_all(&data_dir);
        Some(TestDatabase {
            url: format!("{admin}{separator}options=-c%20search_path%3D{schema}"),
            data_dir,
            schema: Some(schema),
            database: None,
        })
    }
}

/// A connection to the test PostgreSQL, or None (with a notice) when it cannot be reached and
/// the pass is not required.
async fn admin_connection(admin: &str) -> Option<sqlx::PgConnection> {
    match sqlx::PgConnection::connect(admin).await {
        Ok(conn) => Some(conn),
        Err(e) => {
            if std::env::var("SHEQU_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL required but unreachable at {admin}: {e}");
            }
            eprintln!("notice: PostgreSQL pass skipped, {admin} unreachable: {e}");
            None
        }
    }
}

/// Runs one statement on the admin connection from a throwaway thread with its own runtime,
/// so that Drop works inside and outside async tests.
fn admin_statement(sql: String) {
    let admin = postgres_admin_url();
    let _ = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await;
            }
        });
    })
    .join();
}

/// The admin URL with another database name in its path.
fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(database) = self.database.take() {
            admin_statement(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
        }
        if let Some(schema) = self.schema.take() {
            admin_statement(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

//! Forward-only migrations, numbered the same for both backends, each applied in a transaction.

use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::error::StoreError;
use crate::sql::Backend;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "accounts",
        sqlite: include_str!("../migrations/sqlite/0002_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0002_accounts.sql"),
    },
    Migration {
        version: 3,
        name: "records",
        sqlite: include_str!("../migrations/sqlite/0003_records.sql"),
        postgres: include_str!("../migrations/postgres/0003_records.sql"),
    },
    Migration {
        version: 4,
        name: "surveys",
        sqlite: include_str!("../migrations/sqlite/0004_surveys.sql"),
        postgres: include_str!("../migrations/postgres/0004_surveys.sql"),
    },
    Migration {
        version: 5,
        name: "record_order",
        sqlite: include_str!("../migrations/sqlite/0005_record_order.sql"),
        postgres: include_str!("../migrations/postgres/0005_record_order.sql"),
    },
    Migration {
        version: 6,
        name: "evaluation",
        sqlite: include_str!("../migrations/sqlite/0006_evaluation.sql"),
        postgres: include_str!("../migrations/postgres/0006_evaluation.sql"),
    },
    Migration {
        version: 7,
        name: "reports",
        sqlite: include_str!("../migrations/sqlite/0007_reports.sql"),
        postgres: include_str!("../migrations/postgres/0007_reports.sql"),
    },
];

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut tx = pool.begin_with(backend.begin_write()).await?;
    // Roll back at once on failure: a rollback left to the pool would hold the lock until the
    // connection is next used.
    match apply_pending(&mut tx, backend).await {
        Ok(()) => Ok(tx.commit().await?),
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

async fn apply_pending(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        // Two processes starting on one empty database must not both migrate it.
        sqlx::query("SELECT pg_advisory_xact_lock(7243010)")
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        .fetch_one(&mut **tx)
        .await?;
    let current: i64 = row.try_get("v")?;
    let supported = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > supported {
        return Err(StoreError::DatabaseTooNew {
            found: current,
            supported,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **tx).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(jiff::Timestamp::now().to_string())
        .execute(&mut **tx)
        .await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
    }
    Ok(())
}

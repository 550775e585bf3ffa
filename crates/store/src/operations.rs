//! What operators need of the database itself: a consistent online copy (SQLite), and a check
//! that the aggregate counts indicators and reports read equal a recomputation from the raw
//! records, with the repair.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use shequ_domain::codes::DivisionCode;
use sqlx::Row;

use crate::error::StoreError;
use crate::evaluation::recompute_facts_in;
use crate::sql::{Backend, SqlStore, code_of};

/// The PostgreSQL application name `shequ serve` connects with, so that a restore can tell a
/// running server from its own connections.
pub const SERVER_APPLICATION_NAME: &str = "shequ-server";

/// Adds the server's application name to a PostgreSQL URL.
pub fn server_url(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={SERVER_APPLICATION_NAME}")
}

/// A count that differs from its recomputation (0 where a side has no row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactMismatch {
    pub unit: DivisionCode,
    pub year: i16,
    pub fact: String,
    pub stored: i64,
    pub recomputed: i64,
}

/// A survey whose running count of online ballots differs from the ballots stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyMismatch {
    pub survey_id: i64,
    pub unit: DivisionCode,
    pub year: i16,
    pub kind: String,
    pub stored_ballots: i64,
    pub ballots: i64,
}

/// What a consistency check found, read in one snapshot of the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    pub records_read: u64,
    pub fact_rows: u64,
    /// SQLite's own integrity check, when it reports anything but "ok".
    pub integrity: Vec<String>,
    pub fact_mismatches: Vec<FactMismatch>,
    pub survey_mismatches: Vec<SurveyMismatch>,
}

impl ConsistencyReport {
    pub fn is_consistent(&self) -> bool {
        self.integrity.is_empty()
            && self.fact_mismatches.is_empty()
            && self.survey_mismatches.is_empty()
    }
}

#[async_trait]
pub trait OperationsStore: Send + Sync {
    /// Compares every aggregate count with a recomputation from the records and files, and
    /// every survey's online count with its ballots, in one read snapshot.
    async fn check_consistency(&self) -> Result<ConsistencyReport, StoreError>;
    /// A consistent copy of the whole database (evidence files included, they are stored in
    /// it) written to a new SQLite file while others keep writing. SQLite only; a PostgreSQL
    /// database is copied with pg_dump.
    async fn backup_into(&self, path: &Path) -> Result<(), StoreError>;
    /// Whether the database holds any table (a restore target must be empty).
    async fn has_tables(&self) -> Result<bool, StoreError>;
    /// Whether the database has shequ's migrations table (a restored file or archive that
    /// lacks it is someone else's).
    async fn is_shequ_database(&self) -> Result<bool, StoreError>;
    /// Sessions of a running shequ server on the same PostgreSQL database (they connect as
    /// [`SERVER_APPLICATION_NAME`]); 0 for SQLite, whose data directory is locked instead.
    async fn other_sessions(&self) -> Result<i64, StoreError>;
}

fn small(row: &sqlx::any::AnyRow, column: &str) -> Result<i16, StoreError> {
    let n: i64 = row.try_get(column)?;
    i16::try_from(n).map_err(|_| StoreError::Corrupt(format!("{column} {n}")))
}

#[async_trait]
impl OperationsStore for SqlStore {
    async fn check_consistency(&self) -> Result<ConsistencyReport, StoreError> {
        // A snapshot for the whole check: SQLite's read transaction over WAL, PostgreSQL's
        // repeatable read.
        let begin = match crate::Store::backend(self) {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut tx = self.pool().begin_with(begin).await?;
        let mut report = ConsistencyReport::default();
        if crate::Store::backend(self) == Backend::Sqlite {
            for row in sqlx::query("PRAGMA integrity_check")
                .fetch_all(&mut *tx)
                .await?
            {
                let line: String = row.try_get(0)?;
                if line != "ok" {
                    report.integrity.push(line);
                }
            }
        }
        let (recomputed, read) = recompute_facts_in(&mut tx).await?;
        report.records_read = read;
        let mut stored: BTreeMap<(DivisionCode, i16, String), i64> = BTreeMap::new();
        for row in sqlx::query("SELECT unit_code, year, fact, n FROM record_facts")
            .fetch_all(&mut *tx)
            .await?
        {
            stored.insert(
                (
                    code_of(&row, "unit_code")?,
                    small(&row, "year")?,
                    row.try_get("fact")?,
                ),
                row.try_get("n")?,
            );
        }
        report.fact_rows = stored.len() as u64;
        let recomputed: BTreeMap<_, _> = recomputed.into_iter().collect();
        let keys: std::collections::BTreeSet<&(DivisionCode, i16, String)> =
            stored.keys().chain(recomputed.keys()).collect();
        for key in keys {
            let s = stored.get(key).copied().unwrap_or(0);
            let r = recomputed.get(key).copied().unwrap_or(0);
            if s != r {
                report.fact_mismatches.push(FactMismatch {
                    unit: key.0.clone(),
                    year: key.1,
                    fact: key.2.clone(),
                    stored: s,
                    recomputed: r,
                });
            }
        }
        for row in sqlx::query(
            "SELECT s.id, s.unit_code, s.year, s.kind, s.online_ballots, \
             (SELECT COUNT(*) FROM ballots b WHERE b.survey_id = s.id) AS ballots \
             FROM surveys s ORDER BY s.id",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let stored_ballots: i64 = row.try_get("online_ballots")?;
            let ballots: i64 = row.try_get("ballots")?;
            if stored_ballots != ballots {
                report.survey_mismatches.push(SurveyMismatch {
                    survey_id: row.try_get("id")?,
                    unit: code_of(&row, "unit_code")?,
                    year: small(&row, "year")?,
                    kind: row.try_get("kind")?,
                    stored_ballots,
                    ballots,
                });
            }
        }
        tx.rollback().await?;
        Ok(report)
    }

    async fn has_tables(&self) -> Result<bool, StoreError> {
        let sql = match crate::Store::backend(self) {
            Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'",
            Backend::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                 WHERE table_schema = current_schema()"
            }
        };
        let n: i64 = sqlx::query(sql)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok(n > 0)
    }

    async fn is_shequ_database(&self) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT version FROM schema_migrations LIMIT 1")
            .fetch_optional(self.pool())
            .await
            .is_ok())
    }

    async fn other_sessions(&self) -> Result<i64, StoreError> {
        if crate::Store::backend(self) == Backend::Sqlite {
            return Ok(0);
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
        )
        .bind(SERVER_APPLICATION_NAME)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn backup_into(&self, path: &Path) -> Result<(), StoreError> {
        if crate::Store::backend(self) != Backend::Sqlite {
            return Err(StoreError::Unsupported(
                "PostgreSQL 数据库请用 pg_dump 备份".into(),
            ));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Unsupported("备份文件路径须为 UTF-8".into()))?;
        // VACUUM INTO reads one snapshot, so writers go on and the copy is consistent.
        sqlx::query("VACUUM INTO $1")
            .bind(target.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

//! The one SQL implementation of [`Store`], over sqlx's runtime-chosen driver.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use shequ_domain::codes::{DivisionCode, Level, UnitKind};
use shequ_domain::standard::Standard;
use shequ_domain::tree::{Ancestors, ImportPlan, StoredUnit, UnitSource};
use shequ_domain::units::{Unit, UnitCounts, UnitRef};
use sqlx::any::AnyArguments;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row};

use crate::error::StoreError;
use crate::{
    AuditEntry, AuditRecord, GroupMembership, GroupSummary, NameChange, SaveOutcome, Store,
    UnitQuery,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::BadUrl(url.to_string()))
        }
    }

    /// SQLite takes the write lock up front so that concurrent writers wait (busy_timeout)
    /// instead of failing with "database is locked" when a reader upgrades.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// The backend a connection (or a transaction on one) talks to.
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Rows per multi-row INSERT: under SQLite's and PostgreSQL's parameter limits.
const INSERT_BATCH: usize = 100;

pub struct SqlStore {
    pool: AnyPool,
    /// SQLite's writers' own pool of one connection; PostgreSQL writes through `pool`.
    writer: Option<AnyPool>,
    backend: Backend,
}

/// How long a connection may be waited for: a database that gives none in this time is down.
const CONNECT_WAIT: Duration = Duration::from_secs(15);
/// How long a SQLite writer waits for its turn: longer than the largest import's transaction
/// (200,000 rows), so that only a stuck writer makes others give up.
const WRITE_WAIT: Duration = Duration::from_secs(60);

/// The advisory lock PostgreSQL writers take in turn (the migrations take 7243010).
const WRITERS_LOCK: i64 = 7243011;
/// PostgreSQL's SQLSTATE for a lock not granted within lock_timeout.
const LOCK_NOT_AVAILABLE: &str = "55P03";

fn pool_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(CONNECT_WAIT)
}

fn sqlite_pool(max_connections: u32) -> AnyPoolOptions {
    // Statement journals (every insert into an indexed table inside a transaction keeps one) in
    // memory rather than in temporary files, and a 16 MB page cache a connection so that a large
    // import does not spill.
    pool_options(max_connections).after_connect(|conn, _| {
        Box::pin(async move {
            sqlx::raw_sql(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                 PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;",
            )
            .execute(conn)
            .await?;
            Ok(())
        })
    })
}

pub(crate) const UNIT_COLUMNS: &str = "u.code, u.name, u.depth, u.kind, u.parent_code, \
     u.province_code, u.prefecture_code, u.county_code, u.township_code, u.opened_on, u.closed_on, \
     COALESCE(c.prefecture, 0) AS n_prefecture, COALESCE(c.county, 0) AS n_county, \
     COALESCE(c.township, 0) AS n_township, COALESCE(c.committee, 0) AS n_committee, \
     COALESCE(c.community, 0) AS n_community \
     FROM units u LEFT JOIN unit_counts c ON c.code = u.code";

impl SqlStore {
    async fn standard_text(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT source_toml FROM standards WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("source_toml")).transpose()?)
    }

    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        SqlStore::connect_waiting(url, WRITE_WAIT).await
    }

    async fn connect_waiting(url: &str, write_wait: Duration) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?;
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                // SQLite lets one transaction write at a time. Writers queue for the one
                // connection of their own pool, in order, instead of each taking a reader's
                // connection and polling the file lock under busy_timeout (which backs off in
                // sleeps of up to 100 ms: the p99 of concurrent writes was that sleep).
                let writer = sqlite_pool(1)
                    .acquire_timeout(write_wait)
                    .connect_with(options.clone())
                    .await?;
                let pool = sqlite_pool(8).connect_with(options).await?;
                (pool, Some(writer))
            }
            Backend::Postgres => (pool_options(16).connect_with(options).await?, None),
        };
        Ok(SqlStore {
            pool,
            writer,
            backend,
        })
    }

    /// Closes every connection (a restore must release the database file).
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool write transactions take their connection from.
    pub(crate) fn write_pool(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    /// A write transaction, one at a time on both backends. SQLite allows one writer anyway; on
    /// PostgreSQL every such transaction takes the same advisory lock first, because the writes
    /// check a state before they change it (a review step, a year's version or lock, the tree's
    /// version, the counts a rebuild replaces), and under READ COMMITTED two writers would both
    /// pass the check.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>, StoreError> {
        let mut tx = self.begin_unserialised_write().await?;
        if self.backend == Backend::Postgres {
            let locked = async {
                sqlx::query(AssertSqlSafe(format!(
                    "SET LOCAL lock_timeout = '{}s'",
                    WRITE_WAIT.as_secs()
                )))
                .execute(&mut *tx)
                .await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITERS_LOCK)
                    .execute(&mut *tx)
                    .await
            }
            .await;
            if let Err(e) = locked {
                tx.rollback().await.ok();
                let timed_out = matches!(&e, sqlx::Error::Database(db)
                    if db.code().as_deref() == Some(LOCK_NOT_AVAILABLE));
                return Err(if timed_out {
                    StoreError::Busy
                } else {
                    e.into()
                });
            }
        }
        Ok(tx)
    }

    /// A write transaction that does not wait for the other writers on PostgreSQL: for writes
    /// that check nothing first (a session's last use, a failed sign-in or ballot code), so that
    /// a long import does not hold up every signed-in page.
    pub(crate) async fn begin_unserialised_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, Any>, StoreError> {
        match self
            .write_pool()
            .begin_with(self.backend.begin_write())
            .await
        {
            Ok(tx) => Ok(tx),
            // The writers' own pool timing out means another write held the turn too long; the
            // database itself answered when the pool was opened.
            Err(sqlx::Error::PoolTimedOut) if self.writer.is_some() => Err(StoreError::Busy),
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) fn code_of(row: &AnyRow, column: &str) -> Result<DivisionCode, StoreError> {
    let text: String = row.try_get(column)?;
    DivisionCode::parse(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn optional_code(row: &AnyRow, column: &str) -> Result<Option<DivisionCode>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| DivisionCode::parse(&t).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

fn optional_date(row: &AnyRow, column: &str) -> Result<Option<jiff::civil::Date>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        t.parse()
            .map_err(|e| StoreError::Corrupt(format!("{column} {t}: {e}")))
    })
    .transpose()
}

pub(crate) fn ancestors_of(row: &AnyRow) -> Result<Ancestors, StoreError> {
    Ok(Ancestors {
        province: optional_code(row, "province_code")?,
        prefecture: optional_code(row, "prefecture_code")?,
        county: optional_code(row, "county_code")?,
        township: optional_code(row, "township_code")?,
    })
}

fn unit_from_row(row: &AnyRow) -> Result<Unit, StoreError> {
    let depth: i64 = row.try_get("depth")?;
    let kind: String = row.try_get("kind")?;
    Ok(Unit {
        code: code_of(row, "code")?,
        name: row.try_get("name")?,
        level: Level::from_depth(depth)
            .ok_or_else(|| StoreError::Corrupt(format!("depth {depth}")))?,
        kind: UnitKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("kind {kind}")))?,
        parent: optional_code(row, "parent_code")?,
        ancestors: ancestors_of(row)?,
        opened_on: optional_date(row, "opened_on")?,
        closed_on: optional_date(row, "closed_on")?,
        counts: UnitCounts {
            prefecture: row.try_get("n_prefecture")?,
            county: row.try_get("n_county")?,
            township: row.try_get("n_township")?,
            committee: row.try_get("n_committee")?,
            community: row.try_get("n_community")?,
        },
    })
}

pub(crate) fn units_from_rows(rows: &[AnyRow]) -> Result<Vec<Unit>, StoreError> {
    rows.iter().map(unit_from_row).collect()
}

fn code_str(code: &Option<DivisionCode>) -> Option<String> {
    code.as_ref().map(|c| c.as_str().to_string())
}

/// The smallest string above every code that starts with `prefix` (codes are ASCII digits and
/// ':' sorts right after '9').
fn prefix_upper_bound(prefix: &str) -> String {
    format!("{prefix}:")
}

/// Escapes LIKE wildcards so that user text matches literally.
fn like_contains(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The placeholders of a multi-row VALUES list that is the statement's only parameters:
/// `($1, $2), ($3, $4)` for PostgreSQL, `(?, ?), (?, ?)` for SQLite. sqlx's QueryBuilder writes `?`
/// for the runtime-chosen driver, which PostgreSQL does not accept; and SQLite looks each numbered
/// parameter up by name in a list (sqlx asks for every parameter's name when it binds), so a
/// statement of n numbered parameters costs n² where anonymous ones cost n.
pub(crate) fn placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(1 + r * columns + c).to_string());
                }
            }
        }
        out.push(')');
    }
    out
}

/// `$1, $2, ...` for an IN list.
pub(crate) fn list_placeholders(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) type AnyQuery = Query<'static, Any, AnyArguments>;

pub(crate) fn query(sql: String) -> AnyQuery {
    sqlx::query(AssertSqlSafe(sql))
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        crate::migrations::run(self.write_pool(), self.backend).await?;
        self.ensure_facts_current().await
    }

    async fn state(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM app_state WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    async fn set_state(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO app_state (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_standard(
        &self,
        standard: &Standard,
        source_toml: &str,
        audit: &AuditEntry,
    ) -> Result<SaveOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query("SELECT source_toml FROM standards WHERE id = $1")
            .bind(&standard.id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            let text: String = row.try_get("source_toml")?;
            return if text == source_toml {
                Ok(SaveOutcome::AlreadyPresent)
            } else {
                Err(StoreError::StandardConflict(standard.id.clone()))
            };
        }
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM standards")
            .fetch_one(&mut *tx)
            .await?
            .try_get("next")?;
        // A concurrent add of the same version (two processes starting at once on PostgreSQL)
        // waits here and then inserts nothing.
        let inserted = sqlx::query(
            "INSERT INTO standards (id, seq, title, source_toml, loaded_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&standard.id)
        .bind(seq)
        .bind(&standard.title)
        .bind(source_toml)
        .bind(jiff::Timestamp::now().to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return match self.standard_text(&standard.id).await? {
                Some(text) if text == source_toml => Ok(SaveOutcome::AlreadyPresent),
                Some(_) => Err(StoreError::StandardConflict(standard.id.clone())),
                None => Err(StoreError::Conflict),
            };
        }
        for category in &standard.categories {
            sqlx::query(
                "INSERT INTO standard_categories (standard_id, number, name, declared_count) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&standard.id)
            .bind(i64::from(category.number))
            .bind(&category.name)
            .bind(category.items.len() as i64)
            .execute(&mut *tx)
            .await?;
        }
        let items: Vec<_> = standard.items().collect();
        let mut insert = query(format!(
            "INSERT INTO standard_items (standard_id, number, category_number, text) VALUES {}",
            placeholders(self.backend, items.len(), 4)
        ));
        for (category, item) in items {
            insert = insert
                .bind(standard.id.clone())
                .bind(i64::from(item.number))
                .bind(i64::from(category.number))
                .bind(item.text.clone());
        }
        insert.execute(&mut *tx).await?;
        let indicators: Vec<_> = standard.indicators().collect();
        let mut insert = query(format!(
            "INSERT INTO standard_indicators (standard_id, number, group_name, distinctive, text) \
             VALUES {}",
            placeholders(self.backend, indicators.len(), 5)
        ));
        for (group, indicator) in indicators {
            insert = insert
                .bind(standard.id.clone())
                .bind(i64::from(indicator.number))
                .bind(group.name.clone())
                .bind(i64::from(group.distinctive))
                .bind(indicator.text.clone());
        }
        insert.execute(&mut *tx).await?;
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(SaveOutcome::Added)
    }

    async fn current_standard(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT source_toml FROM standards ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("source_toml")).transpose()?)
    }

    async fn standard_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM standards ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?)
    }

    async fn units_for_planning(&self) -> Result<Vec<StoredUnit>, StoreError> {
        let rows = sqlx::query(
            "SELECT code, name, parent_code, province_code, prefecture_code, county_code, \
             township_code, source, closed_on FROM units",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let source: String = row.try_get("source")?;
                Ok(StoredUnit {
                    code: code_of(row, "code")?,
                    name: row.try_get("name")?,
                    parent: optional_code(row, "parent_code")?,
                    ancestors: ancestors_of(row)?,
                    source: UnitSource::parse(&source)
                        .ok_or_else(|| StoreError::Corrupt(format!("source {source}")))?,
                    closed_on: optional_date(row, "closed_on")?,
                })
            })
            .collect()
    }

    async fn apply_import(
        &self,
        plan: &ImportPlan,
        recorded_at: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let as_of = plan.as_of.map(|d| d.to_string()).unwrap_or_default();
        let mut tx = self.begin_write().await?;
        // Optimistic concurrency: a plan made before another import committed is stale.
        if read_units_version(&mut tx).await? != plan.based_on_version {
            tx.rollback().await?;
            return Err(StoreError::Conflict);
        }
        for batch in plan.inserts.chunks(INSERT_BATCH) {
            let mut insert = query(format!(
                "INSERT INTO units (code, name, depth, kind, is_community, parent_code, \
                 province_code, prefecture_code, county_code, township_code, source, opened_on) \
                 VALUES {}",
                placeholders(self.backend, batch.len(), 12)
            ));
            for u in batch {
                insert = insert
                    .bind(u.code.as_str().to_string())
                    .bind(u.name.clone())
                    .bind(u.level.depth())
                    .bind(u.kind.as_str())
                    .bind(i64::from(u.kind.is_community()))
                    .bind(code_str(&u.parent))
                    .bind(code_str(&u.ancestors.province))
                    .bind(code_str(&u.ancestors.prefecture))
                    .bind(code_str(&u.ancestors.county))
                    .bind(code_str(&u.ancestors.township))
                    .bind(u.source.as_str())
                    .bind(u.opened_on.map(|d| d.to_string()));
            }
            insert.execute(&mut *tx).await?;
        }
        for rename in &plan.renames {
            sqlx::query("UPDATE units SET name = $1 WHERE code = $2")
                .bind(&rename.new_name)
                .bind(rename.code.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO unit_name_history (code, old_name, new_name, changed_on, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(rename.code.as_str())
            .bind(&rename.old_name)
            .bind(&rename.new_name)
            .bind(&as_of)
            .bind(recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        for moved in &plan.moves {
            sqlx::query(
                "UPDATE units SET parent_code = $1, province_code = $2, prefecture_code = $3, \
                 county_code = $4, township_code = $5 WHERE code = $6",
            )
            .bind(code_str(&moved.parent))
            .bind(code_str(&moved.ancestors.province))
            .bind(code_str(&moved.ancestors.prefecture))
            .bind(code_str(&moved.ancestors.county))
            .bind(code_str(&moved.ancestors.township))
            .bind(moved.code.as_str())
            .execute(&mut *tx)
            .await?;
        }
        for code in &plan.reopens {
            sqlx::query("UPDATE units SET closed_on = NULL, opened_on = $1 WHERE code = $2")
                .bind(&as_of)
                .bind(code.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for batch in plan.closes.chunks(INSERT_BATCH) {
            let mut close = query(format!(
                "UPDATE units SET closed_on = $1 WHERE code IN ({})",
                list_placeholders(batch.len(), 2)
            ))
            .bind(as_of.clone());
            for code in batch {
                close = close.bind(code.as_str().to_string());
            }
            close.execute(&mut *tx).await?;
        }
        if !plan.is_empty() {
            recount(&mut tx).await?;
            bump_units_version(&mut tx).await?;
            // A first import of a province (its baseline) dates nothing, so it sets no mark.
            let dated = !plan.renames.is_empty()
                || !plan.closes.is_empty()
                || !plan.reopens.is_empty()
                || !plan.moves.is_empty()
                || plan.inserts.iter().any(|u| u.opened_on.is_some());
            if dated {
                set_state_in(&mut tx, "divisions_as_of", &as_of).await?;
            }
            audit_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unit(&self, code: &DivisionCode) -> Result<Option<Unit>, StoreError> {
        let sql = format!("SELECT {UNIT_COLUMNS} WHERE u.code = $1");
        let row = query(sql)
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(unit_from_row).transpose()
    }

    async fn children(&self, code: &DivisionCode) -> Result<Vec<Unit>, StoreError> {
        let sql = format!("SELECT {UNIT_COLUMNS} WHERE u.parent_code = $1 ORDER BY u.code");
        let rows = query(sql).bind(code.as_str()).fetch_all(&self.pool).await?;
        units_from_rows(&rows)
    }

    async fn roots(&self) -> Result<Vec<Unit>, StoreError> {
        let sql = format!("SELECT {UNIT_COLUMNS} WHERE u.parent_code IS NULL ORDER BY u.code");
        let rows = query(sql).fetch_all(&self.pool).await?;
        units_from_rows(&rows)
    }

    async fn names(&self, codes: &[DivisionCode]) -> Result<Vec<UnitRef>, StoreError> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = HashMap::new();
        for batch in codes.chunks(INSERT_BATCH) {
            let mut select = query(format!(
                "SELECT code, name FROM units WHERE code IN ({})",
                list_placeholders(batch.len(), 1)
            ));
            for code in batch {
                select = select.bind(code.as_str().to_string());
            }
            for row in select.fetch_all(&self.pool).await? {
                let name: String = row.try_get("name")?;
                found.insert(code_of(&row, "code")?, name);
            }
        }
        Ok(codes
            .iter()
            .filter_map(|code| {
                found.get(code).map(|name| UnitRef {
                    code: code.clone(),
                    name: name.clone(),
                })
            })
            .collect())
    }

    async fn search_units(
        &self,
        search: &UnitQuery,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Unit>, StoreError> {
        let rows = match search {
            UnitQuery::CodePrefix(prefix) => {
                let sql = format!(
                    "SELECT {UNIT_COLUMNS} WHERE u.code >= $1 AND u.code < $2 ORDER BY u.code LIMIT $3 OFFSET $4"
                );
                query(sql)
                    .bind(prefix.clone())
                    .bind(prefix_upper_bound(prefix))
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?
            }
            UnitQuery::NameContains(text) => {
                let sql = format!(
                    "SELECT {UNIT_COLUMNS} WHERE u.name LIKE $1 ESCAPE '\\' \
                     ORDER BY u.depth, u.code LIMIT $2 OFFSET $3"
                );
                query(sql)
                    .bind(like_contains(text))
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        units_from_rows(&rows)
    }

    async fn units_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT value FROM app_state WHERE key = 'units_version'")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(0) };
        let text: String = row.try_get("value")?;
        text.parse()
            .map_err(|_| StoreError::Corrupt(format!("units_version {text}")))
    }

    async fn names_in_search_order(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT code, name FROM units ORDER BY depth, code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("code")?, r.try_get("name")?)))
            .collect()
    }

    async fn units_by_codes(&self, codes: &[DivisionCode]) -> Result<Vec<Unit>, StoreError> {
        let mut found = HashMap::new();
        for batch in codes.chunks(INSERT_BATCH) {
            let mut select = query(format!(
                "SELECT {UNIT_COLUMNS} WHERE u.code IN ({})",
                list_placeholders(batch.len(), 1)
            ));
            for code in batch {
                select = select.bind(code.as_str().to_string());
            }
            for row in select.fetch_all(&self.pool).await? {
                let unit = unit_from_row(&row)?;
                found.insert(unit.code.clone(), unit);
            }
        }
        Ok(codes.iter().filter_map(|c| found.remove(c)).collect())
    }

    async fn name_history(&self, code: &DivisionCode) -> Result<Vec<NameChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT old_name, new_name, changed_on FROM unit_name_history WHERE code = $1 ORDER BY id",
        )
        .bind(code.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NameChange {
                    old_name: r.try_get("old_name")?,
                    new_name: r.try_get("new_name")?,
                    changed_on: r.try_get("changed_on")?,
                })
            })
            .collect()
    }

    async fn ancestor_codes(&self, code: &DivisionCode) -> Result<Vec<DivisionCode>, StoreError> {
        let row = sqlx::query(
            "SELECT province_code, prefecture_code, county_code, township_code FROM units WHERE code = $1",
        )
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::UnknownUnit(code.to_string()))?;
        let mut codes = Vec::new();
        for column in [
            "province_code",
            "prefecture_code",
            "county_code",
            "township_code",
        ] {
            if let Some(c) = optional_code(&row, column)? {
                codes.push(c);
            }
        }
        Ok(codes)
    }

    async fn replace_groups(
        &self,
        rows: &[GroupMembership],
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let mut sets: Vec<&str> = rows.iter().map(|r| r.group_set.as_str()).collect();
        sets.sort_unstable();
        sets.dedup();
        let mut tx = self.begin_write().await?;
        let mut previous = 0;
        for set in sets {
            previous += sqlx::query("DELETE FROM unit_group_members WHERE group_set = $1")
                .bind(set)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        for batch in rows.chunks(INSERT_BATCH) {
            let mut insert = query(format!(
                "INSERT INTO unit_group_members (group_set, group_name, unit_code) VALUES {} \
                 ON CONFLICT DO NOTHING",
                placeholders(self.backend, batch.len(), 3)
            ));
            for r in batch {
                insert = insert
                    .bind(r.group_set.clone())
                    .bind(r.group.clone())
                    .bind(r.code.as_str().to_string());
            }
            insert.execute(&mut *tx).await?;
        }
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(previous)
    }

    async fn groups(&self) -> Result<Vec<GroupSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT group_set, group_name, COUNT(*) AS members FROM unit_group_members \
             GROUP BY group_set, group_name ORDER BY group_set, group_name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GroupSummary {
                    group_set: r.try_get("group_set")?,
                    group: r.try_get("group_name")?,
                    members: r.try_get("members")?,
                })
            })
            .collect()
    }

    async fn groups_of(&self, code: &DivisionCode) -> Result<Vec<(String, String)>, StoreError> {
        let mut codes = self.ancestor_codes(code).await?;
        codes.push(code.clone());
        let mut select = query(format!(
            "SELECT DISTINCT group_set, group_name FROM unit_group_members \
             WHERE unit_code IN ({}) ORDER BY group_set, group_name",
            list_placeholders(codes.len(), 1)
        ));
        for c in &codes {
            select = select.bind(c.as_str().to_string());
        }
        let rows = select.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("group_set")?, r.try_get("group_name")?)))
            .collect()
    }

    async fn append_audit(&self, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_entries(
        &self,
        unit: Option<&DivisionCode>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let unit_filter = if unit.is_some() {
            "(unit_code = $1 OR province_code = $1 OR prefecture_code = $1 \
             OR county_code = $1 OR township_code = $1)"
        } else {
            "($1 = $1)"
        };
        let sql = format!(
            "SELECT id, at, actor, role, action, unit_code, object, summary, client \
             FROM audit_log WHERE {unit_filter} AND id < $2 ORDER BY id DESC LIMIT $3"
        );
        let rows = query(sql)
            .bind(unit.map_or_else(String::new, |u| u.as_str().to_string()))
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    entry: AuditEntry {
                        actor: r.try_get("actor")?,
                        role: r.try_get("role")?,
                        action: r.try_get("action")?,
                        unit: optional_code(r, "unit_code")?,
                        object: r.try_get("object")?,
                        summary: r.try_get("summary")?,
                        client: r.try_get("client")?,
                    },
                })
            })
            .collect()
    }

    async fn group_members(&self, group_set: &str, group: &str) -> Result<Vec<Unit>, StoreError> {
        let sql = format!(
            "SELECT {UNIT_COLUMNS} JOIN unit_group_members m ON m.unit_code = u.code \
             WHERE m.group_set = $1 AND m.group_name = $2 ORDER BY u.code"
        );
        let rows = query(sql)
            .bind(group_set)
            .bind(group)
            .fetch_all(&self.pool)
            .await?;
        units_from_rows(&rows)
    }
}

/// Writes an audit entry inside the transaction of the change it records.
pub(crate) async fn audit_in(
    tx: &mut sqlx::Transaction<'static, Any>,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let ancestors = match &audit.unit {
        Some(code) => sqlx::query(
            "SELECT province_code, prefecture_code, county_code, township_code FROM units WHERE code = $1",
        )
        .bind(code.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| ancestors_of(&row))
        .transpose()?
        .unwrap_or_default(),
        None => Ancestors::default(),
    };
    sqlx::query(
        "INSERT INTO audit_log (at, actor, role, action, unit_code, province_code, \
         prefecture_code, county_code, township_code, object, summary, client) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(jiff::Timestamp::now().to_string())
    .bind(&audit.actor)
    .bind(&audit.role)
    .bind(&audit.action)
    .bind(audit.unit.as_ref().map(|c| c.as_str().to_string()))
    .bind(code_str(&ancestors.province))
    .bind(code_str(&ancestors.prefecture))
    .bind(code_str(&ancestors.county))
    .bind(code_str(&ancestors.township))
    .bind(&audit.object)
    .bind(&audit.summary)
    .bind(&audit.client)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn read_units_version(tx: &mut sqlx::Transaction<'static, Any>) -> Result<i64, StoreError> {
    let current: Option<String> =
        sqlx::query("SELECT value FROM app_state WHERE key = 'units_version'")
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get("value"))
            .transpose()?;
    match current {
        None => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("units_version {text}"))),
    }
}

async fn bump_units_version(tx: &mut sqlx::Transaction<'static, Any>) -> Result<(), StoreError> {
    let next = read_units_version(tx).await? + 1;
    set_state_in(tx, "units_version", &next.to_string()).await
}

async fn set_state_in(
    tx: &mut sqlx::Transaction<'static, Any>,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO app_state (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rebuilds the per-unit counts of open descendants at each level from the ancestor columns.
async fn recount(tx: &mut sqlx::Transaction<'static, Any>) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM unit_counts")
        .execute(&mut **tx)
        .await?;
    let per_level = |column: &str| {
        format!(
            "SELECT {column} AS anc, depth, is_community FROM units \
             WHERE closed_on IS NULL AND {column} IS NOT NULL"
        )
    };
    let sql = format!(
        "INSERT INTO unit_counts (code, prefecture, county, township, committee, community) \
         SELECT anc, \
           CAST(SUM(CASE WHEN depth = 2 THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN depth = 3 THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN depth = 4 THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN depth = 5 THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN depth = 5 THEN is_community ELSE 0 END) AS BIGINT) \
         FROM ({} UNION ALL {} UNION ALL {} UNION ALL {}) d GROUP BY anc",
        per_level("province_code"),
        per_level("prefecture_code"),
        per_level("county_code"),
        per_level("township_code"),
    );
    query(sql).execute(&mut **tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_writer_kept_waiting_is_told_the_database_is_busy() {
        let db = crate::testing::TestDatabase::sqlite();
        // The wait also bounds opening the writer's connection, which a loaded machine can take
        // a good part of a second for.
        let store = SqlStore::connect_waiting(&db.url, Duration::from_secs(2))
            .await
            .unwrap();
        let held = store.begin_write().await.unwrap();
        let waited = store.begin_write().await;
        assert!(matches!(waited, Err(StoreError::Busy)), "{waited:?}");
        // Writes outside a store transaction of their own are told the same.
        use crate::surveys::SurveyStore;
        let failure = store.record_ballot_failure("127.0.0.1", "2010-01-01").await;
        assert!(matches!(failure, Err(StoreError::Busy)), "{failure:?}");
        // Readers are not held up by the writer.
        sqlx::query("SELECT 1").execute(store.pool()).await.unwrap();
        held.rollback().await.unwrap();
        store.begin_write().await.unwrap().rollback().await.unwrap();
    }

    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(placeholders(Backend::Postgres, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(list_placeholders(3, 2), "$2, $3, $4");
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_contains("50%_a\\"), "%50\\%\\_a\\\\%");
    }

    #[test]
    fn prefix_bound_sorts_after_every_code_with_the_prefix() {
        let upper = prefix_upper_bound("2301");
        assert!("230199999999" < upper.as_str());
        assert!("2302" > upper.as_str());
    }
}

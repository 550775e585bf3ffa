//! Community records and their evidence files: the SQL half of [`RecordStore`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use shequ_domain::codes::DivisionCode;
use shequ_domain::records::{RecordData, RecordKind};
use shequ_domain::tree::Ancestors;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::AuditEntry;
use crate::error::StoreError;
use crate::evaluation::{
    FactDelta, add_files_to_delta, add_to_delta, apply_fact_delta, file_types_in, record_in,
};
use crate::sql::{
    Backend, SqlStore, ancestors_of, audit_in, code_of, list_placeholders, placeholders, query,
};

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub id: i64,
    pub unit: DivisionCode,
    pub year: i16,
    pub data: RecordData,
    pub record_ref: Option<String>,
    /// The standard version in force when the record was written.
    pub standard_id: Option<String>,
    /// False while a record copied forward from last year waits for the worker to confirm it.
    pub confirmed: bool,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// What to write for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWrite {
    pub data: RecordData,
    pub record_ref: Option<String>,
    pub standard_id: Option<String>,
    pub confirmed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordChange {
    Insert(RecordWrite),
    Update { id: i64, write: RecordWrite },
    Delete { id: i64 },
}

/// A community year's state: a version every write bumps, and the lock set while its
/// self-assessment is under review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YearState {
    pub version: i64,
    pub locked: bool,
}

/// Which records to list. `within` keeps units in a subtree (by their ancestor columns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    pub kind: Option<RecordKind>,
    pub unit: Option<DivisionCode>,
    pub within: Option<DivisionCode>,
    pub year: Option<i16>,
    pub month: Option<i8>,
    pub category: Option<String>,
    pub item: Option<i64>,
    pub group: Option<String>,
    pub unconfirmed_only: bool,
}

/// Where a page of records ends, to continue after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCursor {
    pub sort_key: String,
    pub id: i64,
}

/// Enough of a stored record to match rows of an import against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordIdentity {
    pub id: i64,
    pub unit: DivisionCode,
    pub year: i16,
    pub slot: Option<String>,
    pub record_ref: Option<String>,
    pub content_key: String,
}

/// An evidence file's description (its bytes are read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: i64,
    pub record_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_at: String,
    pub uploaded_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub file_name: String,
    pub content_type: String,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Applies changes in one transaction. Every community year touched (before and after a
    /// change) must be unlocked, and must still be at the version given in `expected` when it is
    /// listed there; each touched year's version goes up by one. Returns the new records' ids.
    async fn apply_record_changes(
        &self,
        changes: &[RecordChange],
        expected: &[(DivisionCode, i16, i64)],
        actor: &str,
        audits: &[AuditEntry],
    ) -> Result<Vec<i64>, StoreError>;
    async fn record(&self, id: i64) -> Result<Option<StoredRecord>, StoreError>;
    /// Records in (sort key, id) order after the cursor.
    async fn list_records(
        &self,
        filter: &RecordFilter,
        after: Option<&RecordCursor>,
        limit: i64,
    ) -> Result<Vec<StoredRecord>, StoreError>;
    async fn count_records(&self, filter: &RecordFilter) -> Result<i64, StoreError>;
    /// Records of a kind for these units (every year), to match an import against.
    async fn record_identities(
        &self,
        kind: RecordKind,
        units: &[DivisionCode],
    ) -> Result<Vec<RecordIdentity>, StoreError>;
    async fn year_states(
        &self,
        units: &[DivisionCode],
    ) -> Result<HashMap<(DivisionCode, i16), YearState>, StoreError>;
    async fn set_year_locked(
        &self,
        unit: &DivisionCode,
        year: i16,
        locked: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Attaches a file to a record (its year must be unlocked).
    async fn add_record_file(
        &self,
        record_id: i64,
        file: &NewFile,
        actor: &str,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError>;
    async fn record_files(&self, record_id: i64) -> Result<Vec<StoredFile>, StoreError>;
    async fn record_file(&self, id: i64) -> Result<Option<(StoredFile, Vec<u8>)>, StoreError>;
    async fn delete_record_file(&self, id: i64, audit: &AuditEntry) -> Result<(), StoreError>;
}

pub(crate) const RECORD_COLUMNS: &str = "id, kind, unit_code, year, fields, record_ref, standard_id, \
     confirmed, created_at, created_by, updated_at, updated_by";
const FILE_COLUMNS: &str =
    "id, record_id, file_name, content_type, size_bytes, sha256, uploaded_at, uploaded_by";

pub(crate) fn record_from_row(row: &AnyRow) -> Result<StoredRecord, StoreError> {
    let kind_text: String = row.try_get("kind")?;
    let kind = RecordKind::parse(&kind_text)
        .ok_or_else(|| StoreError::Corrupt(format!("record kind {kind_text}")))?;
    let fields: String = row.try_get("fields")?;
    let map: BTreeMap<String, String> = serde_json::from_str(&fields)
        .map_err(|e| StoreError::Corrupt(format!("record fields: {e}")))?;
    let data = RecordData::from_text_map(kind, &map).map_err(|problems| {
        StoreError::Corrupt(format!(
            "record fields: {}",
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let year: i64 = row.try_get("year")?;
    let confirmed: i64 = row.try_get("confirmed")?;
    Ok(StoredRecord {
        id: row.try_get("id")?,
        unit: code_of(row, "unit_code")?,
        year: i16::try_from(year).map_err(|_| StoreError::Corrupt(format!("year {year}")))?,
        data,
        record_ref: row.try_get("record_ref")?,
        standard_id: row.try_get("standard_id")?,
        confirmed: confirmed != 0,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

fn file_from_row(row: &AnyRow) -> Result<StoredFile, StoreError> {
    Ok(StoredFile {
        id: row.try_get("id")?,
        record_id: row.try_get("record_id")?,
        file_name: row.try_get("file_name")?,
        content_type: row.try_get("content_type")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        uploaded_at: row.try_get("uploaded_at")?,
        uploaded_by: row.try_get("uploaded_by")?,
    })
}

/// The columns pulled out of a record for filters, uniqueness and ordering.
struct Columns {
    unit: DivisionCode,
    year: i16,
    month: Option<i64>,
    record_date: Option<String>,
    sort_key: String,
    category: Option<String>,
    item_no: Option<i64>,
    quantity: Option<i64>,
    group_name: Option<String>,
    slot: Option<String>,
    content_key: String,
    fields: String,
}

fn columns_of(data: &RecordData) -> Result<Columns, StoreError> {
    let unit = data
        .unit()
        .ok_or_else(|| StoreError::Corrupt("record without a unit".into()))?;
    let year = data
        .year()
        .ok_or_else(|| StoreError::Corrupt("record without a year".into()))?;
    let record_date = data.record_date().map(|d| d.to_string());
    let sort_key = data.sort_key();
    Ok(Columns {
        unit,
        year,
        month: data.month().map(i64::from),
        record_date,
        sort_key,
        category: data.category().map(str::to_string),
        item_no: data.int("item"),
        quantity: data.quantity(),
        group_name: data.group().map(str::to_string),
        slot: data.slot(),
        content_key: data.content_key(),
        fields: serde_json::to_string(&data.to_text_map())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

pub(crate) async fn ancestors_in(
    tx: &mut Tx,
    unit: &DivisionCode,
) -> Result<Ancestors, StoreError> {
    sqlx::query(
        "SELECT province_code, prefecture_code, county_code, township_code FROM units WHERE code = $1",
    )
    .bind(unit.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .map(|row| ancestors_of(&row))
    .transpose()?
    .ok_or_else(|| StoreError::UnknownUnit(unit.as_str().to_string()))
}

async fn year_state_in(
    tx: &mut Tx,
    unit: &DivisionCode,
    year: i16,
) -> Result<YearState, StoreError> {
    let row =
        sqlx::query("SELECT version, locked FROM record_years WHERE unit_code = $1 AND year = $2")
            .bind(unit.as_str())
            .bind(i64::from(year))
            .fetch_optional(&mut **tx)
            .await?;
    Ok(match row {
        Some(row) => YearState {
            version: row.try_get("version")?,
            locked: row.try_get::<i64, _>("locked")? != 0,
        },
        None => YearState::default(),
    })
}

async fn bump_year(tx: &mut Tx, unit: &DivisionCode, year: i16) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO record_years (unit_code, year, version, locked) VALUES ($1, $2, 1, 0) \
         ON CONFLICT (unit_code, year) DO UPDATE SET version = record_years.version + 1",
    )
    .bind(unit.as_str())
    .bind(i64::from(year))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Commits a write transaction when its work succeeded and rolls it back at once when it failed
/// (a rollback left to the pool would hold SQLite's write lock until the connection is reused).
pub(crate) async fn finish<T>(tx: Tx, result: Result<T, StoreError>) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

fn map_unique(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let message = db.message();
            if message.contains("record_ref") || message.contains("records_ref") {
                StoreError::DuplicateRecord("记录编号".into())
            } else {
                StoreError::DuplicateRecord(String::new())
            }
        }
        _ => StoreError::Database(e),
    }
}

/// Ancestors of the units a batch writes to, looked up once per unit.
type AncestorCache = HashMap<DivisionCode, Ancestors>;

/// Rows per multi-row INSERT of records: 24 parameters a row stays well under SQLite's 32,766 and
/// PostgreSQL's 65,535, and one statement carries enough rows that its round trip to the driver's
/// thread is no longer what an import waits on.
const RECORD_BATCH: usize = 200;

async fn ancestors_cached(
    tx: &mut Tx,
    unit: &DivisionCode,
    cache: &mut AncestorCache,
) -> Result<Ancestors, StoreError> {
    if let Some(a) = cache.get(unit) {
        return Ok(a.clone());
    }
    let a = ancestors_in(tx, unit).await?;
    cache.insert(unit.clone(), a.clone());
    Ok(a)
}

fn code_text(code: &Option<DivisionCode>) -> Option<String> {
    code.as_ref().map(|c| c.as_str().to_string())
}

/// Binds a record's columns in the order both the INSERT and the UPDATE name them, from `kind`
/// to the township, then the write's instant and actor.
fn bind_record(
    q: crate::sql::AnyQuery,
    write: &RecordWrite,
    c: &Columns,
    ancestors: &Ancestors,
    now: &str,
    actor: &str,
) -> crate::sql::AnyQuery {
    q.bind(write.data.kind.as_str())
        .bind(c.unit.as_str().to_string())
        .bind(i64::from(c.year))
        .bind(c.month)
        .bind(c.record_date.clone())
        .bind(c.sort_key.clone())
        .bind(c.category.clone())
        .bind(c.item_no)
        .bind(c.quantity)
        .bind(c.group_name.clone())
        .bind(c.slot.clone())
        .bind(write.record_ref.clone())
        .bind(c.content_key.clone())
        .bind(c.fields.clone())
        .bind(write.standard_id.clone())
        .bind(i64::from(write.confirmed))
        .bind(code_text(&ancestors.province))
        .bind(code_text(&ancestors.prefecture))
        .bind(code_text(&ancestors.county))
        .bind(code_text(&ancestors.township))
        .bind(now.to_string())
        .bind(actor.to_string())
}

/// Inserts records in multi-row statements and returns their ids in the order given.
async fn insert_records(
    tx: &mut Tx,
    writes: &[(&RecordWrite, Columns)],
    actor: &str,
    now: &str,
    cache: &mut AncestorCache,
) -> Result<Vec<i64>, StoreError> {
    let backend = Backend::of(tx);
    let mut ids = Vec::with_capacity(writes.len());
    for batch in writes.chunks(RECORD_BATCH) {
        let sql = format!(
            "INSERT INTO records (kind, unit_code, year, month, record_date, sort_key, category, \
             item_no, quantity, group_name, slot, record_ref, content_key, fields, standard_id, \
             confirmed, province_code, prefecture_code, county_code, township_code, created_at, \
             created_by, updated_at, updated_by) VALUES {} RETURNING id",
            placeholders(backend, batch.len(), 24)
        );
        let mut q = query(sql);
        for (write, c) in batch {
            let ancestors = ancestors_cached(tx, &c.unit, cache).await?;
            // created_at/by, then updated_at/by alike.
            q = bind_record(q, write, c, &ancestors, now, actor)
                .bind(now.to_string())
                .bind(actor.to_string());
        }
        let mut batch_ids = q
            .fetch_all(&mut **tx)
            .await
            .map_err(map_unique)?
            .iter()
            .map(|row| row.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING promises no order; both backends give a statement's rows ascending ids in
        // VALUES order (SQLite's next rowid, PostgreSQL's sequence), so ascending is the order given.
        batch_ids.sort_unstable();
        if batch_ids.len() != batch.len() {
            return Err(StoreError::Corrupt(format!(
                "{} records inserted, {} ids returned",
                batch.len(),
                batch_ids.len()
            )));
        }
        ids.extend(batch_ids);
    }
    Ok(ids)
}

async fn update_record(
    tx: &mut Tx,
    id: i64,
    write: &RecordWrite,
    actor: &str,
    now: &str,
    cache: &mut AncestorCache,
) -> Result<(), StoreError> {
    let c = columns_of(&write.data)?;
    let ancestors = ancestors_cached(tx, &c.unit, cache).await?;
    let update = query(
        "UPDATE records SET kind = $1, unit_code = $2, year = $3, month = $4, \
         record_date = $5, sort_key = $6, category = $7, item_no = $8, quantity = $9, \
         group_name = $10, slot = $11, record_ref = $12, content_key = $13, fields = $14, \
         standard_id = $15, confirmed = $16, province_code = $17, prefecture_code = $18, \
         county_code = $19, township_code = $20, updated_at = $21, updated_by = $22 \
         WHERE id = $23 RETURNING id"
            .to_string(),
    );
    let row = bind_record(update, write, &c, &ancestors, now, actor)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_unique)?;
    row.map(|_| ()).ok_or(StoreError::NotFound)
}

/// The column that holds a unit's code on every row of its subtree (records, surveys).
pub(crate) fn subtree_column(unit: &DivisionCode) -> &'static str {
    match unit.level() {
        shequ_domain::Level::Province => "province_code",
        shequ_domain::Level::Prefecture => "prefecture_code",
        shequ_domain::Level::County => "county_code",
        shequ_domain::Level::Township => "township_code",
        shequ_domain::Level::Committee => "unit_code",
    }
}

fn filter_sql(filter: &RecordFilter, binds: &mut Vec<Bind>) -> String {
    let mut clauses = Vec::new();
    let mut push = |clause: &str, value: Bind| {
        binds.push(value);
        clauses.push(clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(kind) = filter.kind {
        push("kind = ?", Bind::Text(kind.as_str().into()));
    }
    if let Some(unit) = &filter.unit {
        push("unit_code = ?", Bind::Text(unit.as_str().into()));
    }
    if let Some(within) = &filter.within {
        let column = subtree_column(within);
        push(&format!("{column} = ?"), Bind::Text(within.as_str().into()));
    }
    if let Some(year) = filter.year {
        push("year = ?", Bind::Int(i64::from(year)));
    }
    if let Some(month) = filter.month {
        push("month = ?", Bind::Int(i64::from(month)));
    }
    if let Some(category) = &filter.category {
        push("category = ?", Bind::Text(category.clone()));
    }
    if let Some(item) = filter.item {
        push("item_no = ?", Bind::Int(item));
    }
    if let Some(group) = &filter.group {
        push("group_name = ?", Bind::Text(group.clone()));
    }
    if filter.unconfirmed_only {
        clauses.push("confirmed = 0".into());
    }
    if clauses.is_empty() {
        "1 = 1".into()
    } else {
        clauses.join(" AND ")
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

fn bind_all(mut q: crate::sql::AnyQuery, binds: Vec<Bind>) -> crate::sql::AnyQuery {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        };
    }
    q
}

/// Units per IN list: well under both backends' parameter limits.
const UNIT_BATCH: usize = 500;

#[async_trait]
impl RecordStore for SqlStore {
    async fn apply_record_changes(
        &self,
        changes: &[RecordChange],
        expected: &[(DivisionCode, i16, i64)],
        actor: &str,
        audits: &[AuditEntry],
    ) -> Result<Vec<i64>, StoreError> {
        let now = jiff::Timestamp::now().to_string();
        let mut tx = self.begin_write().await?;
        let result: Result<Vec<i64>, StoreError> = async {
            // Every year a change touches, before and after it, and what the aggregate counts
            // lose and gain.
            let mut touched: BTreeSet<(DivisionCode, i16)> = BTreeSet::new();
            let mut delta = FactDelta::new();
            // The inserts' columns, worked out once for the counts and the statements.
            let mut inserts: Vec<(&RecordWrite, Columns)> = Vec::new();
            for change in changes {
                match change {
                    RecordChange::Insert(write) => {
                        let c = columns_of(&write.data)?;
                        add_to_delta(&mut delta, &c.unit, c.year, &write.data, &[], 1);
                        touched.insert((c.unit.clone(), c.year));
                        inserts.push((write, c));
                    }
                    RecordChange::Update { id, write } => {
                        let old = record_in(&mut tx, *id).await?;
                        let files = file_types_in(&mut tx, *id).await?;
                        add_to_delta(&mut delta, &old.unit, old.year, &old.data, &files, -1);
                        touched.insert((old.unit, old.year));
                        let c = columns_of(&write.data)?;
                        add_to_delta(&mut delta, &c.unit, c.year, &write.data, &files, 1);
                        touched.insert((c.unit, c.year));
                    }
                    RecordChange::Delete { id } => {
                        let old = record_in(&mut tx, *id).await?;
                        let files = file_types_in(&mut tx, *id).await?;
                        add_to_delta(&mut delta, &old.unit, old.year, &old.data, &files, -1);
                        touched.insert((old.unit, old.year));
                    }
                }
            }
            for (unit, year) in &touched {
                let state = year_state_in(&mut tx, unit, *year).await?;
                if state.locked {
                    return Err(StoreError::Locked {
                        unit: unit.as_str().to_string(),
                        year: *year,
                    });
                }
            }
            for (unit, year, version) in expected {
                if year_state_in(&mut tx, unit, *year).await?.version != *version {
                    return Err(StoreError::Conflict);
                }
            }
            let mut cache = AncestorCache::new();
            // Updates and deletes first, so that a reference or a yearly slot they give up is free
            // for the inserted rows, which then go in as multi-row statements.
            for change in changes {
                match change {
                    RecordChange::Insert(_) => {}
                    RecordChange::Update { id, write } => {
                        update_record(&mut tx, *id, write, actor, &now, &mut cache).await?;
                    }
                    RecordChange::Delete { id } => {
                        sqlx::query("DELETE FROM record_files WHERE record_id = $1")
                            .bind(*id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("DELETE FROM records WHERE id = $1")
                            .bind(*id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            let ids = insert_records(&mut tx, &inserts, actor, &now, &mut cache).await?;
            apply_fact_delta(&mut tx, &delta).await?;
            for (unit, year) in &touched {
                bump_year(&mut tx, unit, *year).await?;
            }
            for audit in audits {
                audit_in(&mut tx, audit).await?;
            }
            Ok(ids)
        }
        .await;
        finish(tx, result).await
    }

    async fn record(&self, id: i64) -> Result<Option<StoredRecord>, StoreError> {
        query(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(|row| record_from_row(&row))
        .transpose()
    }

    async fn list_records(
        &self,
        filter: &RecordFilter,
        after: Option<&RecordCursor>,
        limit: i64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let mut binds = Vec::new();
        let mut sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE {}",
            filter_sql(filter, &mut binds)
        );
        if let Some(cursor) = after {
            let n = binds.len();
            sql.push_str(&format!(
                " AND (sort_key > ${} OR (sort_key = ${} AND id > ${}))",
                n + 1,
                n + 1,
                n + 2
            ));
            binds.push(Bind::Text(cursor.sort_key.clone()));
            binds.push(Bind::Int(cursor.id));
        }
        binds.push(Bind::Int(limit));
        sql.push_str(&format!(" ORDER BY sort_key, id LIMIT ${}", binds.len()));
        let rows = bind_all(query(sql), binds).fetch_all(self.pool()).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn count_records(&self, filter: &RecordFilter) -> Result<i64, StoreError> {
        let mut binds = Vec::new();
        let sql = format!(
            "SELECT COUNT(*) AS n FROM records WHERE {}",
            filter_sql(filter, &mut binds)
        );
        Ok(bind_all(query(sql), binds)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?)
    }

    async fn record_identities(
        &self,
        kind: RecordKind,
        units: &[DivisionCode],
    ) -> Result<Vec<RecordIdentity>, StoreError> {
        let mut out = Vec::new();
        for batch in units.chunks(UNIT_BATCH) {
            let sql = format!(
                "SELECT id, unit_code, year, slot, record_ref, content_key FROM records \
                 WHERE kind = $1 AND unit_code IN ({}) ORDER BY id",
                list_placeholders(batch.len(), 2)
            );
            let mut q = query(sql).bind(kind.as_str());
            for unit in batch {
                q = q.bind(unit.as_str().to_string());
            }
            for row in q.fetch_all(self.pool()).await? {
                let year: i64 = row.try_get("year")?;
                out.push(RecordIdentity {
                    id: row.try_get("id")?,
                    unit: code_of(&row, "unit_code")?,
                    year: i16::try_from(year)
                        .map_err(|_| StoreError::Corrupt(format!("year {year}")))?,
                    slot: row.try_get("slot")?,
                    record_ref: row.try_get("record_ref")?,
                    content_key: row.try_get("content_key")?,
                });
            }
        }
        Ok(out)
    }

    async fn year_states(
        &self,
        units: &[DivisionCode],
    ) -> Result<HashMap<(DivisionCode, i16), YearState>, StoreError> {
        let mut out = HashMap::new();
        for batch in units.chunks(UNIT_BATCH) {
            let sql = format!(
                "SELECT unit_code, year, version, locked FROM record_years WHERE unit_code IN ({})",
                list_placeholders(batch.len(), 1)
            );
            let mut q = query(sql);
            for unit in batch {
                q = q.bind(unit.as_str().to_string());
            }
            for row in q.fetch_all(self.pool()).await? {
                let year: i64 = row.try_get("year")?;
                out.insert(
                    (
                        code_of(&row, "unit_code")?,
                        i16::try_from(year)
                            .map_err(|_| StoreError::Corrupt(format!("year {year}")))?,
                    ),
                    YearState {
                        version: row.try_get("version")?,
                        locked: row.try_get::<i64, _>("locked")? != 0,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn set_year_locked(
        &self,
        unit: &DivisionCode,
        year: i16,
        locked: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        ancestors_in(&mut tx, unit).await?;
        sqlx::query(
            "INSERT INTO record_years (unit_code, year, version, locked) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (unit_code, year) DO UPDATE SET locked = $3, \
             version = record_years.version + 1",
        )
        .bind(unit.as_str())
        .bind(i64::from(year))
        .bind(i64::from(locked))
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_record_file(
        &self,
        record_id: i64,
        file: &NewFile,
        actor: &str,
        audit: &AuditEntry,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<i64, StoreError> = async {
            let record = record_in(&mut tx, record_id).await?;
            let (unit, year) = (record.unit.clone(), record.year);
            if year_state_in(&mut tx, &unit, year).await?.locked {
                return Err(StoreError::Locked {
                    unit: unit.as_str().to_string(),
                    year,
                });
            }
            let id: i64 = sqlx::query(
                "INSERT INTO record_files (record_id, file_name, content_type, size_bytes, \
                 sha256, data, uploaded_at, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING id",
            )
            .bind(record_id)
            .bind(&file.file_name)
            .bind(&file.content_type)
            .bind(file.bytes.len() as i64)
            .bind(&file.sha256)
            .bind(file.bytes.clone())
            .bind(jiff::Timestamp::now().to_string())
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            let mut delta = FactDelta::new();
            let types = [file.content_type.clone()];
            add_files_to_delta(&mut delta, &unit, year, &record.data, &types, 1);
            apply_fact_delta(&mut tx, &delta).await?;
            bump_year(&mut tx, &unit, year).await?;
            audit_in(&mut tx, audit).await?;
            Ok(id)
        }
        .await;
        finish(tx, result).await
    }

    async fn record_files(&self, record_id: i64) -> Result<Vec<StoredFile>, StoreError> {
        let rows = query(format!(
            "SELECT {FILE_COLUMNS} FROM record_files WHERE record_id = $1 ORDER BY id"
        ))
        .bind(record_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(file_from_row).collect()
    }

    async fn record_file(&self, id: i64) -> Result<Option<(StoredFile, Vec<u8>)>, StoreError> {
        let row = query(format!(
            "SELECT {FILE_COLUMNS}, data FROM record_files WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| Ok((file_from_row(&row)?, row.try_get("data")?)))
            .transpose()
    }

    async fn delete_record_file(&self, id: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            let row = sqlx::query("SELECT record_id, content_type FROM record_files WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let record = record_in(&mut tx, row.try_get("record_id")?).await?;
            let (unit, year) = (record.unit.clone(), record.year);
            let content_type: String = row.try_get("content_type")?;
            if year_state_in(&mut tx, &unit, year).await?.locked {
                return Err(StoreError::Locked {
                    unit: unit.as_str().to_string(),
                    year,
                });
            }
            sqlx::query("DELETE FROM record_files WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let mut delta = FactDelta::new();
            add_files_to_delta(&mut delta, &unit, year, &record.data, &[content_type], -1);
            apply_fact_delta(&mut tx, &delta).await?;
            bump_year(&mut tx, &unit, year).await?;
            audit_in(&mut tx, audit).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }
}

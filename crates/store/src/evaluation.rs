//! Evaluation's storage: the aggregate counts kept with every record write, what evaluators
//! enter (checklists, overrides), and the review chain's state and history, whose every step
//! sets the records' lock in the same transaction.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use shequ_domain::codes::DivisionCode;
use shequ_domain::evaluation::facts::{self, FACTS_VERSION, file_facts, record_facts};
use shequ_domain::evaluation::{ReviewState, Status};
use shequ_domain::records::RecordData;
use shequ_domain::units::Unit;
use sqlx::Row;

use crate::AuditEntry;
use crate::error::StoreError;
use crate::records::{StoredRecord, Tx, finish, record_from_row, subtree_column};
use crate::sql::{Backend, SqlStore, audit_in, code_of, placeholders, query};
use crate::surveys::StoredSurvey;

/// What a person entered for an indicator of a community's year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssessmentEntry {
    /// An on-site checklist: item → holds.
    Inspection(BTreeMap<String, bool>),
    /// A result in place of the automatic one.
    Override { status: Status, reason: String },
}

impl AssessmentEntry {
    fn kind(&self) -> &'static str {
        match self {
            AssessmentEntry::Inspection(_) => "inspection",
            AssessmentEntry::Override { .. } => "override",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAssessment {
    pub unit: DivisionCode,
    pub year: i16,
    pub indicator: u32,
    pub entry: AssessmentEntry,
    pub entered_by: String,
    pub entered_at: String,
}

/// One step of a community year's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewEvent {
    pub action: String,
    pub from_state: ReviewState,
    pub to_state: ReviewState,
    /// The level that acted: committee, township, county, prefecture or province.
    pub level: String,
    pub reason: String,
    pub actor: String,
    pub at: String,
}

/// Which of a year's aggregate counts to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactSet {
    /// What the indicators count: everything but the per-month service counts.
    Evaluation,
    /// Every count, the per-month service counts of progress reports included.
    All,
}

#[async_trait]
pub trait EvaluationStore: Send + Sync {
    /// The committee-level units under a unit (or the unit itself), in code order; the caller
    /// keeps the communities.
    async fn committees_within(&self, unit: &DivisionCode) -> Result<Vec<Unit>, StoreError>;
    /// The year's surveys of one community or of every community under a unit.
    async fn surveys_within(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<Vec<StoredSurvey>, StoreError>;
    /// The aggregate counts of the year for one community, or for every community under a
    /// higher unit, by community.
    async fn record_facts(
        &self,
        unit: &DivisionCode,
        year: i16,
        set: FactSet,
    ) -> Result<HashMap<DivisionCode, BTreeMap<String, i64>>, StoreError>;
    /// Recomputes every aggregate count from the records (when the way they are counted
    /// changed); returns how many records were read.
    async fn rebuild_record_facts(&self) -> Result<u64, StoreError>;
    async fn assessments(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<Vec<StoredAssessment>, StoreError>;
    /// Enters or replaces an assessment, unless the year's review is final
    /// ([`StoreError::ReviewFinal`]).
    async fn put_assessment(
        &self,
        unit: &DivisionCode,
        year: i16,
        indicator: u32,
        entry: &AssessmentEntry,
        actor: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Removes an override; true when there was one.
    async fn delete_override(
        &self,
        unit: &DivisionCode,
        year: i16,
        indicator: u32,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Review states of the year for one community or every community under a unit (those
    /// without a row are drafts).
    async fn review_states(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<HashMap<DivisionCode, ReviewState>, StoreError>;
    async fn review_history(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<Vec<ReviewEvent>, StoreError>;
    /// Moves a review from `event.from_state` to `event.to_state` if it still is in the former
    /// (else [`StoreError::Conflict`]), records the step, and locks or unlocks the year's
    /// records to match, all in one transaction.
    async fn transition_review(
        &self,
        unit: &DivisionCode,
        year: i16,
        event: &ReviewEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}

/// Count changes of a batch of writes, by community year and fact.
pub(crate) type FactDelta = HashMap<(DivisionCode, i16, String), i64>;

/// Adds (sign 1) or takes away (sign -1) what a record and its files count for.
pub(crate) fn add_to_delta(
    delta: &mut FactDelta,
    unit: &DivisionCode,
    year: i16,
    data: &RecordData,
    file_types: &[String],
    sign: i64,
) {
    let facts = record_facts(data)
        .into_iter()
        .chain(file_types.iter().flat_map(|t| file_facts(data, t)));
    for (fact, n) in facts {
        *delta.entry((unit.clone(), year, fact)).or_insert(0) += sign * n;
    }
}

/// What evidence files alone count for (attached to or removed from a record).
pub(crate) fn add_files_to_delta(
    delta: &mut FactDelta,
    unit: &DivisionCode,
    year: i16,
    data: &RecordData,
    file_types: &[String],
    sign: i64,
) {
    for (fact, n) in file_types.iter().flat_map(|t| file_facts(data, t)) {
        *delta.entry((unit.clone(), year, fact)).or_insert(0) += sign * n;
    }
}

pub(crate) async fn record_in(tx: &mut Tx, id: i64) -> Result<StoredRecord, StoreError> {
    let row = query(format!(
        "SELECT {} FROM records WHERE id = $1",
        crate::records::RECORD_COLUMNS
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    record_from_row(&row)
}

pub(crate) async fn file_types_in(tx: &mut Tx, record_id: i64) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT content_type FROM record_files WHERE record_id = $1")
        .bind(record_id)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| r.try_get("content_type").map_err(StoreError::from))
        .collect()
}

/// Rows per multi-value statement (sqlx's bind cost grows with statement size).
const FACT_BATCH: usize = 100;

pub(crate) async fn apply_fact_delta(tx: &mut Tx, delta: &FactDelta) -> Result<(), StoreError> {
    let changes: Vec<(&(DivisionCode, i16, String), &i64)> =
        delta.iter().filter(|(_, n)| **n != 0).collect();
    for batch in changes.chunks(FACT_BATCH) {
        let sql = format!(
            "INSERT INTO record_facts (unit_code, year, fact, n) VALUES {} \
             ON CONFLICT (unit_code, year, fact) DO UPDATE SET n = record_facts.n + excluded.n",
            placeholders(Backend::of(tx), batch.len(), 4)
        );
        let mut q = query(sql);
        for ((unit, year, fact), n) in batch {
            q = q
                .bind(unit.as_str().to_string())
                .bind(i64::from(*year))
                .bind(fact.clone())
                .bind(**n);
        }
        q.execute(&mut **tx).await?;
    }
    let emptied: std::collections::BTreeSet<(&DivisionCode, i16)> = changes
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|((unit, year, _), _)| (unit, *year))
        .collect();
    for (unit, year) in emptied {
        sqlx::query("DELETE FROM record_facts WHERE unit_code = $1 AND year = $2 AND n <= 0")
            .bind(unit.as_str())
            .bind(i64::from(year))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

const FACTS_VERSION_KEY: &str = "record_facts_version";

/// The aggregate counts worked out afresh from every record and evidence file, without
/// writing; and how many records were read.
pub(crate) async fn recompute_facts_in(tx: &mut Tx) -> Result<(FactDelta, u64), StoreError> {
    let mut files: HashMap<i64, Vec<String>> = HashMap::new();
    for row in sqlx::query("SELECT record_id, content_type FROM record_files")
        .fetch_all(&mut **tx)
        .await?
    {
        files
            .entry(row.try_get("record_id")?)
            .or_default()
            .push(row.try_get("content_type")?);
    }
    let mut delta = FactDelta::new();
    let mut after = 0i64;
    let mut read = 0u64;
    loop {
        let rows = query(format!(
            "SELECT {} FROM records WHERE id > $1 ORDER BY id LIMIT 1000",
            crate::records::RECORD_COLUMNS
        ))
        .bind(after)
        .fetch_all(&mut **tx)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("id")?;
        for row in &rows {
            let record = record_from_row(row)?;
            let types = files.get(&record.id).map_or(&[][..], Vec::as_slice);
            add_to_delta(
                &mut delta,
                &record.unit,
                record.year,
                &record.data,
                types,
                1,
            );
            read += 1;
        }
    }
    delta.retain(|_, n| *n != 0);
    Ok((delta, read))
}

impl SqlStore {
    /// Rebuilds the aggregate counts when they were built by another version of the rules
    /// that make them (or never).
    pub(crate) async fn ensure_facts_current(&self) -> Result<(), StoreError> {
        let current: Option<String> = sqlx::query("SELECT value FROM app_state WHERE key = $1")
            .bind(FACTS_VERSION_KEY)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.try_get("value"))
            .transpose()?;
        if current.as_deref() != Some(FACTS_VERSION) {
            self.rebuild_record_facts().await?;
        }
        Ok(())
    }
}

fn parse_state(text: &str) -> Result<ReviewState, StoreError> {
    ReviewState::parse(text).ok_or_else(|| StoreError::Corrupt(format!("review state {text}")))
}

fn year_of(row: &sqlx::any::AnyRow) -> Result<i16, StoreError> {
    let year: i64 = row.try_get("year")?;
    i16::try_from(year).map_err(|_| StoreError::Corrupt(format!("year {year}")))
}

/// `unit_code = $1` for a community, or the subtree column of a higher unit, on table alias
/// `u` (units) joined by code.
pub(crate) fn unit_clause(unit: &DivisionCode, column_of_table: &str) -> String {
    if unit.level() == shequ_domain::Level::Committee {
        format!("{column_of_table} = $1")
    } else {
        format!("u.{} = $1", subtree_column(unit))
    }
}

#[async_trait]
impl EvaluationStore for SqlStore {
    async fn committees_within(&self, unit: &DivisionCode) -> Result<Vec<Unit>, StoreError> {
        let sql = format!(
            "SELECT {} WHERE {} AND u.depth = 5 ORDER BY u.code",
            crate::sql::UNIT_COLUMNS,
            unit_clause(unit, "u.code")
        );
        let rows = query(sql)
            .bind(unit.as_str().to_string())
            .fetch_all(self.pool())
            .await?;
        crate::sql::units_from_rows(&rows)
    }

    async fn surveys_within(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<Vec<StoredSurvey>, StoreError> {
        let column = if unit.level() == shequ_domain::Level::Committee {
            "unit_code"
        } else {
            subtree_column(unit)
        };
        let sql = format!(
            "SELECT {} FROM surveys WHERE {column} = $1 AND year = $2 ORDER BY unit_code, kind",
            crate::surveys::SURVEY_COLUMNS
        );
        let rows = query(sql)
            .bind(unit.as_str().to_string())
            .bind(i64::from(year))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(crate::surveys::survey_from_row).collect()
    }

    async fn record_facts(
        &self,
        unit: &DivisionCode,
        year: i16,
        set: FactSet,
    ) -> Result<HashMap<DivisionCode, BTreeMap<String, i64>>, StoreError> {
        // The prefixes are constants of ours with no LIKE wildcards in them.
        let leave_out: String = match set {
            FactSet::All => String::new(),
            FactSet::Evaluation => facts::MONTHLY_SERVICE_PREFIXES
                .iter()
                .map(|prefix| format!(" AND f.fact NOT LIKE '{prefix}%'"))
                .collect(),
        };
        // One row a community with its counts as a JSON object, built by the database: a
        // province's counts are hundreds of thousands of rows, and the driver hands rows over one
        // at a time across threads, which cost more than everything else the evaluation does.
        let aggregate = match crate::Store::backend(self) {
            Backend::Sqlite => "json_group_object(f.fact, f.n)",
            Backend::Postgres => "json_object_agg(f.fact, f.n)::text",
        };
        let sql = format!(
            "SELECT f.unit_code, {aggregate} AS counts FROM record_facts f \
             JOIN units u ON u.code = f.unit_code \
             WHERE {} AND f.year = $2{leave_out} GROUP BY f.unit_code",
            unit_clause(unit, "f.unit_code")
        );
        let rows = query(sql)
            .bind(unit.as_str().to_string())
            .bind(i64::from(year))
            .fetch_all(self.pool())
            .await?;
        let mut out: HashMap<DivisionCode, BTreeMap<String, i64>> = HashMap::new();
        for row in rows {
            let counts: String = row.try_get("counts")?;
            let counts: BTreeMap<String, i64> = serde_json::from_str(&counts)
                .map_err(|e| StoreError::Corrupt(format!("record_facts: {e}")))?;
            out.insert(code_of(&row, "unit_code")?, counts);
        }
        Ok(out)
    }

    async fn rebuild_record_facts(&self) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<u64, StoreError> = async {
            sqlx::query("DELETE FROM record_facts")
                .execute(&mut *tx)
                .await?;
            let (delta, read) = recompute_facts_in(&mut tx).await?;
            apply_fact_delta(&mut tx, &delta).await?;
            sqlx::query(
                "INSERT INTO app_state (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(FACTS_VERSION_KEY)
            .bind(FACTS_VERSION)
            .execute(&mut *tx)
            .await?;
            Ok(read)
        }
        .await;
        finish(tx, result).await
    }

    async fn assessments(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<Vec<StoredAssessment>, StoreError> {
        let sql = format!(
            "SELECT a.unit_code, a.year, a.indicator, a.kind, a.status, a.items, a.reason, \
             a.entered_by, a.entered_at FROM assessments a JOIN units u ON u.code = a.unit_code \
             WHERE {} AND a.year = $2 ORDER BY a.unit_code, a.indicator, a.kind",
            unit_clause(unit, "a.unit_code")
        );
        let rows = query(sql)
            .bind(unit.as_str().to_string())
            .bind(i64::from(year))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let entry = match kind.as_str() {
                    "inspection" => {
                        let items: Option<String> = row.try_get("items")?;
                        AssessmentEntry::Inspection(
                            serde_json::from_str(items.as_deref().unwrap_or("{}"))
                                .map_err(|e| StoreError::Corrupt(format!("assessment: {e}")))?,
                        )
                    }
                    _ => {
                        let status: Option<String> = row.try_get("status")?;
                        AssessmentEntry::Override {
                            status: status
                                .as_deref()
                                .and_then(Status::parse)
                                .ok_or_else(|| StoreError::Corrupt("override status".into()))?,
                            reason: row.try_get("reason")?,
                        }
                    }
                };
                let indicator: i64 = row.try_get("indicator")?;
                Ok(StoredAssessment {
                    unit: code_of(row, "unit_code")?,
                    year: year_of(row)?,
                    indicator: u32::try_from(indicator)
                        .map_err(|_| StoreError::Corrupt("indicator".into()))?,
                    entry,
                    entered_by: row.try_get("entered_by")?,
                    entered_at: row.try_get("entered_at")?,
                })
            })
            .collect()
    }

    async fn put_assessment(
        &self,
        unit: &DivisionCode,
        year: i16,
        indicator: u32,
        entry: &AssessmentEntry,
        actor: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            if review_state_in(&mut tx, unit, year).await? == ReviewState::Final {
                return Err(StoreError::ReviewFinal);
            }
            let (status, items, reason) = match entry {
                AssessmentEntry::Inspection(items) => (
                    None,
                    Some(
                        serde_json::to_string(items)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    ),
                    String::new(),
                ),
                AssessmentEntry::Override { status, reason } => {
                    (Some(status.as_str().to_string()), None, reason.clone())
                }
            };
            sqlx::query(
                "INSERT INTO assessments (unit_code, year, indicator, kind, status, items, reason, \
                 entered_by, entered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (unit_code, year, indicator, kind) DO UPDATE SET \
                 status = excluded.status, items = excluded.items, reason = excluded.reason, \
                 entered_by = excluded.entered_by, entered_at = excluded.entered_at",
            )
            .bind(unit.as_str())
            .bind(i64::from(year))
            .bind(i64::from(indicator))
            .bind(entry.kind())
            .bind(status)
            .bind(items)
            .bind(reason)
            .bind(actor)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&mut *tx)
            .await?;
            audit_in(&mut tx, audit).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn delete_override(
        &self,
        unit: &DivisionCode,
        year: i16,
        indicator: u32,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<bool, StoreError> = async {
            if review_state_in(&mut tx, unit, year).await? == ReviewState::Final {
                return Err(StoreError::ReviewFinal);
            }
            let done = sqlx::query(
                "DELETE FROM assessments WHERE unit_code = $1 AND year = $2 AND indicator = $3 \
                 AND kind = 'override'",
            )
            .bind(unit.as_str())
            .bind(i64::from(year))
            .bind(i64::from(indicator))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if done {
                audit_in(&mut tx, audit).await?;
            }
            Ok(done)
        }
        .await;
        finish(tx, result).await
    }

    async fn review_states(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<HashMap<DivisionCode, ReviewState>, StoreError> {
        let sql = format!(
            "SELECT r.unit_code, r.state FROM reviews r JOIN units u ON u.code = r.unit_code \
             WHERE {} AND r.year = $2",
            unit_clause(unit, "r.unit_code")
        );
        let rows = query(sql)
            .bind(unit.as_str().to_string())
            .bind(i64::from(year))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok((code_of(row, "unit_code")?, parse_state(&state)?))
            })
            .collect()
    }

    async fn review_history(
        &self,
        unit: &DivisionCode,
        year: i16,
    ) -> Result<Vec<ReviewEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT action, from_state, to_state, level, reason, actor, at FROM review_events \
             WHERE unit_code = $1 AND year = $2 ORDER BY id",
        )
        .bind(unit.as_str())
        .bind(i64::from(year))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let state = |column: &str| -> Result<ReviewState, StoreError> {
                    parse_state(&row.try_get::<String, _>(column)?)
                };
                Ok(ReviewEvent {
                    action: row.try_get("action")?,
                    from_state: state("from_state")?,
                    to_state: state("to_state")?,
                    level: row.try_get("level")?,
                    reason: row.try_get("reason")?,
                    actor: row.try_get("actor")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    async fn transition_review(
        &self,
        unit: &DivisionCode,
        year: i16,
        event: &ReviewEvent,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            crate::records::ancestors_in(&mut tx, unit).await?;
            if review_state_in(&mut tx, unit, year).await? != event.from_state {
                return Err(StoreError::Conflict);
            }
            sqlx::query(
                "INSERT INTO reviews (unit_code, year, state, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (unit_code, year) DO UPDATE SET \
                 state = excluded.state, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by",
            )
            .bind(unit.as_str())
            .bind(i64::from(year))
            .bind(event.to_state.as_str())
            .bind(&event.at)
            .bind(&event.actor)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO review_events (unit_code, year, action, from_state, to_state, level, \
                 reason, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(unit.as_str())
            .bind(i64::from(year))
            .bind(&event.action)
            .bind(event.from_state.as_str())
            .bind(event.to_state.as_str())
            .bind(&event.level)
            .bind(&event.reason)
            .bind(&event.actor)
            .bind(&event.at)
            .execute(&mut *tx)
            .await?;
            let locked = i64::from(event.to_state.locks_records());
            sqlx::query(
                "INSERT INTO record_years (unit_code, year, version, locked) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (unit_code, year) DO UPDATE SET locked = $3, \
                 version = record_years.version + 1",
            )
            .bind(unit.as_str())
            .bind(i64::from(year))
            .bind(locked)
            .execute(&mut *tx)
            .await?;
            audit_in(&mut tx, audit).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }
}

async fn review_state_in(
    tx: &mut Tx,
    unit: &DivisionCode,
    year: i16,
) -> Result<ReviewState, StoreError> {
    let row = sqlx::query("SELECT state FROM reviews WHERE unit_code = $1 AND year = $2")
        .bind(unit.as_str())
        .bind(i64::from(year))
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        None => Ok(ReviewState::Draft),
        Some(row) => parse_state(&row.try_get::<String, _>("state")?),
    }
}

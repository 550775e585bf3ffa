//! Surveys, ballot codes and ballots: the SQL half of [`SurveyStore`]. A code counts once
//! because casting is one conditional UPDATE of the code's row (`state = 'unused'`), which the
//! database serialises; the ballot is inserted in the same transaction, with nothing that names
//! the code.

use async_trait::async_trait;
use shequ_domain::codes::DivisionCode;
use shequ_domain::surveys::{SurveyKind, SurveySpec, Tally};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::AuditEntry;
use crate::error::StoreError;
use crate::sql::{Backend, SqlStore, audit_in, code_of, placeholders, query};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSurvey {
    pub id: i64,
    pub unit: DivisionCode,
    pub year: i16,
    pub kind: SurveyKind,
    /// The questions, scale and threshold, fixed when the survey was opened.
    pub spec: SurveySpec,
    pub standard_id: String,
    pub opens_on: Option<jiff::civil::Date>,
    pub closes_on: Option<jiff::civil::Date>,
    /// When it was closed by hand; its results are final from then.
    pub closed_at: Option<String>,
    pub online: Tally,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSurvey {
    pub unit: DivisionCode,
    pub year: i16,
    pub kind: SurveyKind,
    pub spec: SurveySpec,
    pub standard_id: String,
    pub opens_on: Option<jiff::civil::Date>,
    pub closes_on: Option<jiff::civil::Date>,
    pub created_by: String,
}

/// How many of a survey's codes are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodeCounts {
    pub unused: i64,
    pub used: i64,
    pub void: i64,
    pub expired: i64,
}

/// What casting a ballot with a code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastOutcome {
    Cast,
    AlreadyUsed,
    Void,
    /// The survey closed (or its last day passed) before the code was used.
    Expired,
    NotYetOpen,
    Unknown,
}

#[async_trait]
pub trait SurveyStore: Send + Sync {
    async fn open_survey(&self, survey: &NewSurvey, audit: &AuditEntry) -> Result<i64, StoreError>;
    async fn survey(
        &self,
        unit: &DivisionCode,
        year: i16,
        kind: SurveyKind,
    ) -> Result<Option<StoredSurvey>, StoreError>;
    /// Online counts by kind over the year's surveys in the unit's subtree that have ended by
    /// `today` (closed by hand, or past their last day). Counts of a running survey stay hidden:
    /// watching them move after handing out one code would tell how that household voted.
    async fn online_totals(
        &self,
        unit: &DivisionCode,
        year: i16,
        today: jiff::civil::Date,
    ) -> Result<Vec<(SurveyKind, Tally)>, StoreError>;
    async fn set_survey_dates(
        &self,
        id: i64,
        opens_on: Option<jiff::civil::Date>,
        closes_on: Option<jiff::civil::Date>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Closes a survey for good; its unused codes expire.
    async fn close_survey(&self, id: i64, at: &str, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn add_codes(
        &self,
        survey_id: i64,
        hashes: &[String],
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Voids those of the codes that are unused codes of the survey; returns how many.
    async fn void_codes(
        &self,
        survey_id: i64,
        hashes: &[String],
        audit: &AuditEntry,
    ) -> Result<u64, StoreError>;
    async fn code_counts(&self, survey_id: i64) -> Result<CodeCounts, StoreError>;
    /// The survey a code belongs to, and the code's state.
    async fn survey_of_code(
        &self,
        hash: &str,
    ) -> Result<Option<(StoredSurvey, String)>, StoreError>;
    /// Casts a ballot: `answers` as stored, `tally` what it adds to the survey's counts.
    async fn cast_ballot(
        &self,
        hash: &str,
        answers: &str,
        tally: Tally,
        today: jiff::civil::Date,
    ) -> Result<CastOutcome, StoreError>;
    /// Every stored ballot's answers for a survey (for recounts and tests), in no linkable order.
    async fn ballots(&self, survey_id: i64) -> Result<Vec<String>, StoreError>;
    async fn record_ballot_failure(&self, client: &str, at: &str) -> Result<(), StoreError>;
    async fn ballot_failures_since(&self, client: &str, since: &str) -> Result<i64, StoreError>;
}

pub(crate) const SURVEY_COLUMNS: &str = "id, unit_code, year, kind, spec, standard_id, opens_on, closes_on, \
     closed_at, online_ballots, online_answers, online_satisfied, created_at, created_by";

fn date_of(row: &AnyRow, column: &str) -> Result<Option<jiff::civil::Date>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        t.parse()
            .map_err(|e| StoreError::Corrupt(format!("{column} {t}: {e}")))
    })
    .transpose()
}

pub(crate) fn survey_from_row(row: &AnyRow) -> Result<StoredSurvey, StoreError> {
    let kind: String = row.try_get("kind")?;
    let spec: String = row.try_get("spec")?;
    let year: i64 = row.try_get("year")?;
    Ok(StoredSurvey {
        id: row.try_get("id")?,
        unit: code_of(row, "unit_code")?,
        year: i16::try_from(year).map_err(|_| StoreError::Corrupt(format!("year {year}")))?,
        kind: SurveyKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("survey kind {kind}")))?,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Corrupt(format!("survey spec: {e}")))?,
        standard_id: row.try_get("standard_id")?,
        opens_on: date_of(row, "opens_on")?,
        closes_on: date_of(row, "closes_on")?,
        closed_at: row.try_get("closed_at")?,
        online: Tally {
            ballots: row.try_get("online_ballots")?,
            answers: row.try_get("online_answers")?,
            satisfied: row.try_get("online_satisfied")?,
        },
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

/// Codes per multi-row INSERT.
const CODE_BATCH: usize = 200;

#[async_trait]
impl SurveyStore for SqlStore {
    async fn open_survey(&self, survey: &NewSurvey, audit: &AuditEntry) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<i64, StoreError> = async {
            let ancestors = crate::records::ancestors_in(&mut tx, &survey.unit).await?;
            let code = |c: &Option<DivisionCode>| c.as_ref().map(|c| c.as_str().to_string());
            let spec = serde_json::to_string(&survey.spec)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let id: i64 = sqlx::query(
                "INSERT INTO surveys (unit_code, year, kind, spec, standard_id, opens_on, \
                 closes_on, online_ballots, online_answers, online_satisfied, province_code, \
                 prefecture_code, county_code, township_code, created_at, created_by) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, $8, $9, $10, $11, $12, $13) RETURNING id",
            )
            .bind(survey.unit.as_str())
            .bind(i64::from(survey.year))
            .bind(survey.kind.as_str())
            .bind(spec)
            .bind(&survey.standard_id)
            .bind(survey.opens_on.map(|d| d.to_string()))
            .bind(survey.closes_on.map(|d| d.to_string()))
            .bind(code(&ancestors.province))
            .bind(code(&ancestors.prefecture))
            .bind(code(&ancestors.county))
            .bind(code(&ancestors.township))
            .bind(jiff::Timestamp::now().to_string())
            .bind(&survey.created_by)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::DuplicateRecord("测评".into())
                }
                _ => StoreError::Database(e),
            })?
            .try_get("id")?;
            audit_in(&mut tx, audit).await?;
            Ok(id)
        }
        .await;
        crate::records::finish(tx, result).await
    }

    async fn survey(
        &self,
        unit: &DivisionCode,
        year: i16,
        kind: SurveyKind,
    ) -> Result<Option<StoredSurvey>, StoreError> {
        query(format!(
            "SELECT {SURVEY_COLUMNS} FROM surveys WHERE unit_code = $1 AND year = $2 AND kind = $3"
        ))
        .bind(unit.as_str().to_string())
        .bind(i64::from(year))
        .bind(kind.as_str())
        .fetch_optional(self.pool())
        .await?
        .map(|row| survey_from_row(&row))
        .transpose()
    }

    async fn online_totals(
        &self,
        unit: &DivisionCode,
        year: i16,
        today: jiff::civil::Date,
    ) -> Result<Vec<(SurveyKind, Tally)>, StoreError> {
        let column = crate::records::subtree_column(unit);
        let rows = query(format!(
            "SELECT kind, CAST(SUM(online_ballots) AS BIGINT) AS b, \
             CAST(SUM(online_answers) AS BIGINT) AS a, CAST(SUM(online_satisfied) AS BIGINT) AS s \
             FROM surveys WHERE year = $1 AND {column} = $2 \
             AND (closed_at IS NOT NULL OR closes_on < $3) GROUP BY kind"
        ))
        .bind(i64::from(year))
        .bind(unit.as_str().to_string())
        .bind(today.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok((
                    SurveyKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("survey kind {kind}")))?,
                    Tally {
                        ballots: row.try_get("b")?,
                        answers: row.try_get("a")?,
                        satisfied: row.try_get("s")?,
                    },
                ))
            })
            .collect()
    }

    async fn set_survey_dates(
        &self,
        id: i64,
        opens_on: Option<jiff::civil::Date>,
        closes_on: Option<jiff::civil::Date>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            let changed = sqlx::query(
                "UPDATE surveys SET opens_on = $1, closes_on = $2 WHERE id = $3 AND closed_at IS NULL",
            )
            .bind(opens_on.map(|d| d.to_string()))
            .bind(closes_on.map(|d| d.to_string()))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            audit_in(&mut tx, audit).await
        }
        .await;
        crate::records::finish(tx, result).await
    }

    async fn close_survey(&self, id: i64, at: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            let changed =
                sqlx::query("UPDATE surveys SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(
                "UPDATE ballot_codes SET state = 'expired' WHERE survey_id = $1 AND state = 'unused'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit_in(&mut tx, audit).await
        }
        .await;
        crate::records::finish(tx, result).await
    }

    async fn add_codes(
        &self,
        survey_id: i64,
        hashes: &[String],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            for batch in hashes.chunks(CODE_BATCH) {
                let sql = format!(
                    "INSERT INTO ballot_codes (code_hash, survey_id, state) VALUES {}",
                    placeholders(Backend::of(&tx), batch.len(), 3)
                );
                let mut q = query(sql);
                for hash in batch {
                    q = q.bind(hash.clone()).bind(survey_id).bind("unused");
                }
                q.execute(&mut *tx).await?;
            }
            audit_in(&mut tx, audit).await
        }
        .await;
        crate::records::finish(tx, result).await
    }

    async fn void_codes(
        &self,
        survey_id: i64,
        hashes: &[String],
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<u64, StoreError> = async {
            let mut voided = 0;
            for hash in hashes {
                voided += sqlx::query(
                    "UPDATE ballot_codes SET state = 'void' WHERE code_hash = $1 \
                     AND survey_id = $2 AND state = 'unused'",
                )
                .bind(hash)
                .bind(survey_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            audit_in(&mut tx, audit).await?;
            Ok(voided)
        }
        .await;
        crate::records::finish(tx, result).await
    }

    async fn code_counts(&self, survey_id: i64) -> Result<CodeCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM ballot_codes WHERE survey_id = $1 GROUP BY state",
        )
        .bind(survey_id)
        .fetch_all(self.pool())
        .await?;
        let mut counts = CodeCounts::default();
        for row in rows {
            let state: String = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            match state.as_str() {
                "unused" => counts.unused = n,
                "used" => counts.used = n,
                "void" => counts.void = n,
                "expired" => counts.expired = n,
                other => return Err(StoreError::Corrupt(format!("code state {other}"))),
            }
        }
        Ok(counts)
    }

    async fn survey_of_code(
        &self,
        hash: &str,
    ) -> Result<Option<(StoredSurvey, String)>, StoreError> {
        let columns = SURVEY_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = query(format!(
            "SELECT {columns}, c.state FROM ballot_codes c JOIN surveys s ON s.id = c.survey_id \
             WHERE c.code_hash = $1"
        ))
        .bind(hash.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| Ok((survey_from_row(&row)?, row.try_get("state")?)))
            .transpose()
    }

    async fn cast_ballot(
        &self,
        hash: &str,
        answers: &str,
        tally: Tally,
        today: jiff::civil::Date,
    ) -> Result<CastOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<CastOutcome, StoreError> = async {
            let Some(row) = sqlx::query(
                "SELECT s.id, s.opens_on, s.closes_on, s.closed_at, c.state FROM ballot_codes c \
                 JOIN surveys s ON s.id = c.survey_id WHERE c.code_hash = $1",
            )
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(CastOutcome::Unknown);
            };
            let survey_id: i64 = row.try_get("id")?;
            let closed_at: Option<String> = row.try_get("closed_at")?;
            if date_of(&row, "opens_on")?.is_some_and(|d| today < d) {
                return Ok(CastOutcome::NotYetOpen);
            }
            if closed_at.is_some() || date_of(&row, "closes_on")?.is_some_and(|d| today > d) {
                let state: String = row.try_get("state")?;
                return Ok(if state == "used" {
                    CastOutcome::AlreadyUsed
                } else {
                    CastOutcome::Expired
                });
            }
            // The one statement that decides: only one transaction can move this row from
            // unused to used.
            let claimed = sqlx::query(
                "UPDATE ballot_codes SET state = 'used' WHERE code_hash = $1 AND state = 'unused'",
            )
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                let state: String =
                    sqlx::query("SELECT state FROM ballot_codes WHERE code_hash = $1")
                        .bind(hash)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("state")?;
                return Ok(match state.as_str() {
                    "void" => CastOutcome::Void,
                    "expired" => CastOutcome::Expired,
                    _ => CastOutcome::AlreadyUsed,
                });
            }
            sqlx::query("INSERT INTO ballots (survey_id, answers) VALUES ($1, $2)")
                .bind(survey_id)
                .bind(answers)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE surveys SET online_ballots = online_ballots + $1, \
                 online_answers = online_answers + $2, online_satisfied = online_satisfied + $3 \
                 WHERE id = $4",
            )
            .bind(tally.ballots)
            .bind(tally.answers)
            .bind(tally.satisfied)
            .bind(survey_id)
            .execute(&mut *tx)
            .await?;
            Ok(CastOutcome::Cast)
        }
        .await;
        crate::records::finish(tx, result).await
    }

    async fn ballots(&self, survey_id: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT answers FROM ballots WHERE survey_id = $1 ORDER BY answers")
            .bind(survey_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get("answers").map_err(StoreError::from))
            .collect()
    }

    async fn record_ballot_failure(&self, client: &str, at: &str) -> Result<(), StoreError> {
        // Through a transaction like every write, so that waiting too long is reported as busy.
        let mut tx = self.begin_unserialised_write().await?;
        sqlx::query("INSERT INTO ballot_failures (client, at) VALUES ($1, $2)")
            .bind(client)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ballot_failures_since(&self, client: &str, since: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM ballot_failures WHERE client = $1 AND at >= $2")
                .bind(client)
                .bind(since)
                .fetch_one(self.pool())
                .await?
                .try_get("n")?,
        )
    }
}

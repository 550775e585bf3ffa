//! Progress reports' storage: each community month's submitted snapshot and the due days the
//! levels above set.

use async_trait::async_trait;
use shequ_domain::codes::DivisionCode;
use sqlx::Row;

use crate::AuditEntry;
use crate::error::StoreError;
use crate::records::{ancestors_in, finish};
use crate::sql::{SqlStore, audit_in, code_of, query};

/// A community month's report as submitted. The first submission decides on time or late;
/// a resubmission replaces the snapshot and keeps that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedReport {
    pub unit: DivisionCode,
    pub year: i16,
    pub month: i8,
    pub first_submitted_at: String,
    /// The local (北京时间) date of the first submission.
    pub first_submitted_on: jiff::civil::Date,
    /// The due date in force at the first submission: later changes to due days do not turn
    /// an on-time report late.
    pub due_on: jiff::civil::Date,
    pub submitted_at: String,
    pub submitted_by: String,
    pub submissions: i64,
    /// The figures as submitted, as the app wrote them (JSON).
    pub snapshot: String,
}

/// The day of the following month a unit's month report is due, set by that unit for
/// everything below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineSetting {
    pub unit: DivisionCode,
    pub year: i16,
    pub month: i8,
    pub day: i8,
    pub set_by: String,
    pub set_at: String,
}

/// What a submission writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubmission<'a> {
    pub unit: &'a DivisionCode,
    pub year: i16,
    pub month: i8,
    pub at: &'a str,
    pub on: jiff::civil::Date,
    pub due_on: jiff::civil::Date,
    pub by: &'a str,
    pub snapshot: &'a str,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Records a submission (the first, or a resubmission) and its audit line in one
    /// transaction; returns the report as it now stands.
    async fn submit_report(
        &self,
        submission: &NewSubmission<'_>,
        audit: &AuditEntry,
    ) -> Result<SubmittedReport, StoreError>;
    /// The submitted reports of one community, or of every community under a unit, for the
    /// months `first..=last` of a year.
    async fn submitted_reports(
        &self,
        within: &DivisionCode,
        year: i16,
        first: i8,
        last: i8,
    ) -> Result<Vec<SubmittedReport>, StoreError>;
    async fn set_deadline(
        &self,
        setting: &DeadlineSetting,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Removes a unit's setting for a month; true when there was one.
    async fn clear_deadline(
        &self,
        unit: &DivisionCode,
        year: i16,
        month: i8,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// Every unit's settings for a year (a few per unit at most).
    async fn deadlines(&self, year: i16) -> Result<Vec<DeadlineSetting>, StoreError>;
}

const REPORT_COLUMNS: &str = "p.unit_code, p.year, p.month, p.first_submitted_at, \
     p.first_submitted_on, p.due_on, p.submitted_at, p.submitted_by, p.submissions, p.snapshot";

fn small(row: &sqlx::any::AnyRow, column: &str) -> Result<i64, StoreError> {
    Ok(row.try_get(column)?)
}

fn report_from_row(row: &sqlx::any::AnyRow) -> Result<SubmittedReport, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("progress report {what}"));
    let on: String = row.try_get("first_submitted_on")?;
    let due: String = row.try_get("due_on")?;
    Ok(SubmittedReport {
        unit: code_of(row, "unit_code")?,
        year: i16::try_from(small(row, "year")?).map_err(|_| corrupt("year"))?,
        month: i8::try_from(small(row, "month")?).map_err(|_| corrupt("month"))?,
        first_submitted_at: row.try_get("first_submitted_at")?,
        first_submitted_on: on.parse().map_err(|_| corrupt("date"))?,
        due_on: due.parse().map_err(|_| corrupt("due date"))?,
        submitted_at: row.try_get("submitted_at")?,
        submitted_by: row.try_get("submitted_by")?,
        submissions: row.try_get("submissions")?,
        snapshot: row.try_get("snapshot")?,
    })
}

#[async_trait]
impl ReportStore for SqlStore {
    async fn submit_report(
        &self,
        s: &NewSubmission<'_>,
        audit: &AuditEntry,
    ) -> Result<SubmittedReport, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<SubmittedReport, StoreError> = async {
            ancestors_in(&mut tx, s.unit).await?;
            sqlx::query(
                // Of submissions racing, the latest instant's snapshot stands; instants are
                // written with a fixed precision so that they compare as text.
                "INSERT INTO progress_reports (unit_code, year, month, first_submitted_at, \
                 first_submitted_on, due_on, submitted_at, submitted_by, submissions, snapshot) \
                 VALUES ($1, $2, $3, $4, $5, $6, $4, $7, 1, $8) \
                 ON CONFLICT (unit_code, year, month) DO UPDATE SET \
                 submissions = progress_reports.submissions + 1, \
                 submitted_by = CASE WHEN excluded.submitted_at >= progress_reports.submitted_at \
                   THEN excluded.submitted_by ELSE progress_reports.submitted_by END, \
                 snapshot = CASE WHEN excluded.submitted_at >= progress_reports.submitted_at \
                   THEN excluded.snapshot ELSE progress_reports.snapshot END, \
                 submitted_at = CASE WHEN excluded.submitted_at >= progress_reports.submitted_at \
                   THEN excluded.submitted_at ELSE progress_reports.submitted_at END",
            )
            .bind(s.unit.as_str())
            .bind(i64::from(s.year))
            .bind(i64::from(s.month))
            .bind(s.at)
            .bind(s.on.to_string())
            .bind(s.due_on.to_string())
            .bind(s.by)
            .bind(s.snapshot)
            .execute(&mut *tx)
            .await?;
            let row = query(format!(
                "SELECT {REPORT_COLUMNS} FROM progress_reports p \
                 WHERE p.unit_code = $1 AND p.year = $2 AND p.month = $3"
            ))
            .bind(s.unit.as_str().to_string())
            .bind(i64::from(s.year))
            .bind(i64::from(s.month))
            .fetch_one(&mut *tx)
            .await?;
            audit_in(&mut tx, audit).await?;
            report_from_row(&row)
        }
        .await;
        finish(tx, result).await
    }

    async fn submitted_reports(
        &self,
        within: &DivisionCode,
        year: i16,
        first: i8,
        last: i8,
    ) -> Result<Vec<SubmittedReport>, StoreError> {
        let clause = crate::evaluation::unit_clause(within, "p.unit_code");
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM progress_reports p JOIN units u ON u.code = p.unit_code \
             WHERE {clause} AND p.year = $2 AND p.month >= $3 AND p.month <= $4 \
             ORDER BY p.unit_code, p.month"
        );
        let rows = query(sql)
            .bind(within.as_str().to_string())
            .bind(i64::from(year))
            .bind(i64::from(first))
            .bind(i64::from(last))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(report_from_row).collect()
    }

    async fn set_deadline(
        &self,
        setting: &DeadlineSetting,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<(), StoreError> = async {
            ancestors_in(&mut tx, &setting.unit).await?;
            sqlx::query(
                "INSERT INTO report_deadlines (unit_code, year, month, day, set_by, set_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (unit_code, year, month) DO UPDATE \
                 SET day = excluded.day, set_by = excluded.set_by, set_at = excluded.set_at",
            )
            .bind(setting.unit.as_str())
            .bind(i64::from(setting.year))
            .bind(i64::from(setting.month))
            .bind(i64::from(setting.day))
            .bind(&setting.set_by)
            .bind(&setting.set_at)
            .execute(&mut *tx)
            .await?;
            audit_in(&mut tx, audit).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn clear_deadline(
        &self,
        unit: &DivisionCode,
        year: i16,
        month: i8,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let result: Result<bool, StoreError> = async {
            let done = sqlx::query(
                "DELETE FROM report_deadlines WHERE unit_code = $1 AND year = $2 AND month = $3",
            )
            .bind(unit.as_str())
            .bind(i64::from(year))
            .bind(i64::from(month))
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

    async fn deadlines(&self, year: i16) -> Result<Vec<DeadlineSetting>, StoreError> {
        let rows = sqlx::query(
            "SELECT unit_code, year, month, day, set_by, set_at FROM report_deadlines \
             WHERE year = $1 ORDER BY unit_code, month",
        )
        .bind(i64::from(year))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let corrupt = || StoreError::Corrupt("report deadline".into());
                Ok(DeadlineSetting {
                    unit: code_of(row, "unit_code")?,
                    year: i16::try_from(small(row, "year")?).map_err(|_| corrupt())?,
                    month: i8::try_from(small(row, "month")?).map_err(|_| corrupt())?,
                    day: i8::try_from(small(row, "day")?).map_err(|_| corrupt())?,
                    set_by: row.try_get("set_by")?,
                    set_at: row.try_get("set_at")?,
                })
            })
            .collect()
    }
}

//! Storage behind one trait. The app layer sees [`Store`]; [`connect`] picks the backend from the
//! URL: SQLite (a file, the embedded default) or PostgreSQL (`postgres://`).
//!
//! Both backends share one implementation ([`sql::SqlStore`]) written in the SQL the two accept
//! (`$1` parameters, ON CONFLICT, WITH RECURSIVE, no dialect functions); what differs lives in
//! [`Backend`]: connection setup, how a write transaction starts, and the migration files, which
//! are kept per backend with the same numbers and names.

mod accounts;
mod error;
mod evaluation;
mod migrations;
mod operations;
mod records;
mod reports;
mod sql;
mod surveys;
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use shequ_domain::codes::DivisionCode;
use shequ_domain::standard::Standard;
use shequ_domain::tree::{ImportPlan, StoredUnit};
use shequ_domain::units::{Unit, UnitRef};

pub use error::StoreError;
pub use evaluation::{AssessmentEntry, EvaluationStore, FactSet, ReviewEvent, StoredAssessment};
pub use migrations::{MIGRATIONS, Migration};
pub use operations::{
    ConsistencyReport, FactMismatch, OperationsStore, SERVER_APPLICATION_NAME, SurveyMismatch,
    server_url,
};
pub use records::{
    NewFile, RecordChange, RecordCursor, RecordFilter, RecordIdentity, RecordStore, RecordWrite,
    StoredFile, StoredRecord, YearState,
};
pub use reports::{DeadlineSetting, NewSubmission, ReportStore, SubmittedReport};
pub use sql::{Backend, SqlStore};
pub use surveys::{CastOutcome, CodeCounts, NewSurvey, StoredSurvey, SurveyStore};

/// What loading a standard version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    Added,
    AlreadyPresent,
}

/// A renaming kept in a unit's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameChange {
    pub old_name: String,
    pub new_name: String,
    pub changed_on: String,
}

/// A unit group and how many member units (subtree roots) it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub group_set: String,
    pub group: String,
    pub members: i64,
}

/// One membership row of a group file, checked and ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMembership {
    pub group_set: String,
    pub group: String,
    pub code: DivisionCode,
}

/// A search for units by name or code prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitQuery {
    CodePrefix(String),
    NameContains(String),
}

/// One line of the audit log, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// A username, or `cli:<operating-system user>` for the command line.
    pub actor: String,
    pub role: String,
    /// What was done, such as `import.divisions` or `user.create`.
    pub action: String,
    /// The unit the change concerns, if any (its ancestors are filled in by the store).
    pub unit: Option<DivisionCode>,
    /// The object changed, such as a file name, a standard version or a username.
    pub object: String,
    /// A short before/after summary.
    pub summary: String,
    /// The client address, or `cli`.
    pub client: String,
}

/// An audit log line as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub entry: AuditEntry,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// PHC string (argon2id); never leaves the app layer.
    pub password_hash: String,
    pub role: shequ_domain::access::Role,
    pub scope: DivisionCode,
    pub active: bool,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: shequ_domain::access::Role,
    pub scope: DivisionCode,
    pub must_change_password: bool,
}

/// A session with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub csrf_token: String,
    /// RFC 3339 instant of the last request, for idle expiry.
    pub last_seen_at: String,
    pub revoked: bool,
}

/// Users, sessions (kept in the database so a restart keeps them) and failed sign-ins.
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn count_users(&self) -> Result<i64, StoreError>;
    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> Result<i64, StoreError>;
    /// Creates all the users or, if any username is taken, none.
    /// One audit entry per user, in the same transaction.
    async fn create_users(
        &self,
        users: &[NewUser],
        audits: &[AuditEntry],
    ) -> Result<Vec<i64>, StoreError>;
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Users whose scope unit is the given unit or below it (all when None), by username.
    async fn list_users(
        &self,
        within: Option<&DivisionCode>,
    ) -> Result<Vec<UserRecord>, StoreError>;
    async fn set_user_active(
        &self,
        user_id: i64,
        active: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Sessions are looked up by a hash of their token, so the table alone opens nothing.
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Sets a new password hash and whether it must be changed at the next sign-in.
    /// Sets a new password hash and ends the user's sessions, except the one whose token hash
    /// is `keep` (the session changing its own password).
    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        must_change: bool,
        keep: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Replaces a state value only if it still is `expected`; true when it did. One of many
    /// concurrent callers wins.
    async fn swap_state(&self, key: &str, expected: &str, new: &str) -> Result<bool, StoreError>;
    async fn touch_session(&self, token_hash: &str, now: &str) -> Result<(), StoreError>;
    async fn revoke_session(&self, token_hash: &str, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn record_sign_in_failure(
        &self,
        username: &str,
        client: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Failures since an instant: (for this username, from this client).
    async fn sign_in_failures_since(
        &self,
        username: &str,
        client: &str,
        since: &str,
    ) -> Result<(i64, i64), StoreError>;
}

#[async_trait]
pub trait Store:
    AccountStore
    + RecordStore
    + SurveyStore
    + EvaluationStore
    + ReportStore
    + OperationsStore
    + Send
    + Sync
{
    fn backend(&self) -> Backend;

    /// Applies pending migrations; refuses a database newer than this program.
    async fn migrate(&self) -> Result<(), StoreError>;

    async fn state(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_state(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Adds a standard version. An id already present with the same text is left alone; with a
    /// different text it is refused, because records point at versions by id.
    async fn add_standard(
        &self,
        standard: &Standard,
        source_toml: &str,
        audit: &AuditEntry,
    ) -> Result<SaveOutcome, StoreError>;
    /// The most recently added version, as its TOML text.
    async fn current_standard(&self) -> Result<Option<String>, StoreError>;
    async fn standard_ids(&self) -> Result<Vec<String>, StoreError>;

    /// Every unit, as much as import planning needs.
    async fn units_for_planning(&self) -> Result<Vec<StoredUnit>, StoreError>;
    /// Applies a whole import in one transaction and brings the counts up to date.
    async fn apply_import(
        &self,
        plan: &ImportPlan,
        recorded_at: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    async fn unit(&self, code: &DivisionCode) -> Result<Option<Unit>, StoreError>;
    /// Direct children, open and closed, in code order.
    async fn children(&self, code: &DivisionCode) -> Result<Vec<Unit>, StoreError>;
    /// Units without a parent (the provinces).
    async fn roots(&self) -> Result<Vec<Unit>, StoreError>;
    /// Names of the given codes, in the order asked; unknown codes are left out.
    async fn names(&self, codes: &[DivisionCode]) -> Result<Vec<UnitRef>, StoreError>;
    /// Code-prefix or name search in (level, code) order, skipping `offset` matches.
    async fn search_units(
        &self,
        query: &UnitQuery,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Unit>, StoreError>;
    /// A number that changes whenever an import changes any unit, for caches to check.
    async fn units_version(&self) -> Result<i64, StoreError>;
    /// Every unit's code and name, in the order search results are listed (level, then code).
    async fn names_in_search_order(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// The units with these codes, in the order given; unknown codes are left out.
    async fn units_by_codes(&self, codes: &[DivisionCode]) -> Result<Vec<Unit>, StoreError>;
    async fn name_history(&self, code: &DivisionCode) -> Result<Vec<NameChange>, StoreError>;
    /// The codes of a unit's ancestors, root first (not including the unit).
    async fn ancestor_codes(&self, code: &DivisionCode) -> Result<Vec<DivisionCode>, StoreError>;

    /// Replaces the memberships of every group set named in `rows` with `rows`; returns how many
    /// memberships those sets had before.
    async fn replace_groups(
        &self,
        rows: &[GroupMembership],
        audit: &AuditEntry,
    ) -> Result<u64, StoreError>;
    async fn groups(&self) -> Result<Vec<GroupSummary>, StoreError>;
    /// Groups whose membership covers the unit (listed for it or for an ancestor).
    async fn groups_of(&self, code: &DivisionCode) -> Result<Vec<(String, String)>, StoreError>;
    async fn group_members(&self, group_set: &str, group: &str) -> Result<Vec<Unit>, StoreError>;

    /// Appends an entry on its own (for events that change nothing else, such as sign-ins).
    async fn append_audit(&self, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Newest first; entries for the unit and everything below it (all when `unit` is None),
    /// older than `before_id` when given.
    async fn audit_entries(
        &self,
        unit: Option<&DivisionCode>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Opens the store a URL names (`sqlite://PATH` or `postgres://...`) and applies migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let store = SqlStore::connect(url).await?;
    store.migrate().await?;
    Ok(Arc::new(store))
}

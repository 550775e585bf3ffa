//! Use cases: what the web UI, the API and the command line can do, with their checks, in one
//! place. Handlers and commands stay thin and call these.

mod accounts;
mod audit;
mod bundled;
mod caller;
mod dashboard;
mod demo;
mod error;
mod evaluation;
mod operations;
mod records;
mod reports;
mod search;
mod surveys;
mod tree;

use std::sync::Arc;

use shequ_domain::standard::Standard;
use shequ_interchange::NationalFiles;
use shequ_store::Store;
use tokio::sync::RwLock;

pub use accounts::{
    SESSION_IDLE_SECONDS, Session, SignedIn, UserRequest, UserView, first_password,
};
pub use audit::{AUDIT_PAGE, AuditPage};
pub use bundled::Bundled;
pub use caller::Caller;
pub use dashboard::{Dashboard, Todo};
pub use demo::{DEMO_PASSWORD, DemoSummary};
pub use error::AppError;
pub use evaluation::{
    CommunityEvaluation, EvaluationReport, IndicatorReport, RankRow, ReviewView, rank, short_time,
};
pub use jiff::civil::Date;
pub use operations::{
    BackupKind, DataDirLock, RestoreOutcome, SQLITE_FILE, prune_backups, restore,
    scheduled_backup_name,
};
pub use records::{
    ExportRequest, ImportReport, KindCount, MAX_IMPORT_ROWS, RECORD_PAGE, RecordPage, RecordQuery,
    RecordView, StartYearSummary, YearOverview, record_template,
};
pub use reports::{
    Basis, Bulletin, BulletinTable, CommunityPeriod, CompletenessReport, MonthStatus, PeriodView,
    ProgressReport, ReportStatus, Rollup, SubmissionReport,
};
pub use shequ_domain as domain;
pub use shequ_interchange::export::Cell;
pub use shequ_interchange::records::{ExportFormat, RowError};
pub use shequ_interchange::{FileProblem, SourceFile};
pub use shequ_store::{
    AuditEntry, AuditRecord, Backend, CastOutcome, CodeCounts, ConsistencyReport, GroupSummary,
    NameChange, ReviewEvent, SaveOutcome, StoreError, StoredFile, StoredRecord, StoredSurvey,
};
pub use surveys::{
    BallotView, KindSurveys, MAX_CODES, PaperCounts, PaperTally, SurveyResult, SurveyState,
    SurveyView,
};
pub use tree::{
    DivisionSource, GroupImportSummary, ImportOptions, ImportSummary, SEARCH_LIMIT, SearchPage,
    UnitView,
};

/// Key in the store's state table set once first-start data is loaded.
const INITIALISED_KEY: &str = "initialised_at";

pub struct App {
    store: Arc<dyn Store>,
    /// The current standard, parsed once; replaced when a new version is added.
    standard: RwLock<Option<Arc<Standard>>>,
    /// Unit names for search, rebuilt when the units change.
    names: RwLock<Option<Arc<search::NameIndex>>>,
}

/// What first-start initialisation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    AlreadyInitialised,
    Initialised { units: usize, groups: usize },
}

impl App {
    /// Connects to the database and brings its schema up to date.
    pub async fn open(database_url: &str) -> Result<App, AppError> {
        let store = shequ_store::connect(database_url).await?;
        Ok(App::with_store(store))
    }

    pub fn with_store(store: Arc<dyn Store>) -> App {
        App {
            store,
            standard: RwLock::new(None),
            names: RwLock::new(None),
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    pub async fn is_initialised(&self) -> Result<bool, AppError> {
        Ok(self.store.state(INITIALISED_KEY).await?.is_some())
    }

    /// Loads the bundled standard, Heilongjiang divisions and groups into an empty database.
    pub async fn initialise_if_empty(
        &self,
        bundled: &Bundled,
        caller: &Caller,
    ) -> Result<InitOutcome, AppError> {
        if self.is_initialised().await? {
            return Ok(InitOutcome::AlreadyInitialised);
        }
        self.add_standard(bundled.standard_toml, caller).await?;
        let units = self
            .import_divisions(
                bundled.divisions(),
                tree::ImportOptions::as_of(today()),
                caller,
            )
            .await?
            .inserted;
        let groups = self
            .import_groups(&bundled.groups(), caller)
            .await?
            .memberships;
        self.store
            .set_state(INITIALISED_KEY, &jiff::Timestamp::now().to_string())
            .await?;
        Ok(InitOutcome::Initialised { units, groups })
    }

    /// Adds a standard version (kept beside earlier ones) and makes it current.
    pub async fn add_standard(
        &self,
        toml_text: &str,
        caller: &Caller,
    ) -> Result<SaveOutcome, AppError> {
        caller.require_operator_or_province_admin()?;
        let standard = Standard::from_toml(toml_text)?;
        let audit = caller.audit(
            "standard.add",
            None,
            &standard.id,
            &format!(
                "新增标准版本 {}（{} 项服务，{} 项指标）",
                standard.id,
                standard.items().count(),
                standard.indicators().count()
            ),
        );
        let outcome = self
            .store
            .add_standard(&standard, toml_text, &audit)
            .await?;
        *self.standard.write().await = None;
        Ok(outcome)
    }

    pub async fn current_standard(&self) -> Result<Arc<Standard>, AppError> {
        if let Some(standard) = self.standard.read().await.as_ref() {
            return Ok(standard.clone());
        }
        let text = self
            .store
            .current_standard()
            .await?
            .ok_or(AppError::NotReady)?;
        let standard = Arc::new(Standard::from_toml(&text)?);
        *self.standard.write().await = Some(standard.clone());
        Ok(standard)
    }

    pub async fn standard_ids(&self) -> Result<Vec<String>, AppError> {
        Ok(self.store.standard_ids().await?)
    }
}

/// A rate in hundredths of a percent as people read it: 85.71%.
pub fn percent(hundredths: i64) -> String {
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// The five files of the national layout, in level order.
pub fn national_files(
    provinces: SourceFile,
    cities: SourceFile,
    areas: SourceFile,
    streets: SourceFile,
    villages: SourceFile,
) -> NationalFiles {
    NationalFiles {
        provinces,
        cities,
        areas,
        streets,
        villages,
    }
}

/// Today's date in China, the default date an import takes effect.
pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned_datetime(shanghai()).date()
}

/// Periods are computed in China's time zone whatever the server's zone is.
pub fn shanghai() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or_else(|_| {
        // Without a zone database, China's fixed offset (no daylight saving since 1991).
        jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
    })
}

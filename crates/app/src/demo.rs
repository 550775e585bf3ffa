//! The demo: a fresh database with a generated year for two districts of Harbin (道里区 and
//! 南岗区) up to today, the paper tallies confirmed, last month's reports mostly submitted and
//! three demo users, so that a newcomer sees full dashboards, evaluations and bulletins. The
//! database is marked as demo data, and the pages say so.

use std::path::Path;

use shequ_domain::codes::DivisionCode;
use shequ_domain::surveys::SurveyKind;
use shequ_interchange::SourceFile;
use shequ_interchange::generate::{GenOptions, generate};

use crate::{App, AppError, Caller, UserRequest, today};

const DEMO_KEY: &str = "demo_data";
/// The districts the demo fills.
const DISTRICTS: [&str; 2] = ["230102", "230103"];
/// The demo users' password, printed at start: the data is not real.
pub const DEMO_PASSWORD: &str = "shequdemo2010";

/// What the demo loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub communities: usize,
    pub records: usize,
    pub users: Vec<(String, &'static str)>,
}

impl App {
    /// Whether this database holds demo data.
    pub async fn is_demo(&self) -> Result<bool, AppError> {
        Ok(self.store.state(DEMO_KEY).await?.is_some())
    }

    /// Loads the demo into an initialised database that has no records yet; `work` is a
    /// directory for the generated files.
    pub async fn load_demo(&self, work: &Path) -> Result<DemoSummary, AppError> {
        let caller = Caller::operator();
        caller.require_operator()?;
        if self.is_demo().await? {
            return Err(AppError::Conflict("演示数据已载入".into()));
        }
        if self.user_count().await? > 0 {
            return Err(AppError::Conflict(
                "这个数据库已有用户，不是演示数据库；演示只使用自己的新数据目录".into(),
            ));
        }
        let mut communities = Vec::new();
        for district in DISTRICTS {
            let code =
                DivisionCode::parse(district).map_err(|e| AppError::Internal(e.to_string()))?;
            communities.extend(
                self.store
                    .committees_within(&code)
                    .await?
                    .into_iter()
                    .filter(|u| u.kind.is_community() && u.is_open())
                    .map(|u| u.code),
            );
        }
        let now = today();
        let year = now.year();
        let options = GenOptions {
            seed: 2010,
            year,
            scale: 0.05,
            until: now.yesterday().ok(),
        };
        let files = {
            let work = work.to_path_buf();
            let communities = communities.clone();
            tokio::task::spawn_blocking(move || generate(&communities, options, &work, |_| {}))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .map_err(AppError::Internal)?
        };
        let users = vec![
            ("demo_province".to_string(), "province_admin", "23"),
            ("demo_county".to_string(), "officer", "230102"),
            (
                "demo_worker".to_string(),
                "community_worker",
                "230102001001",
            ),
        ];
        let mut province = None;
        for (username, role, unit) in &users {
            let view = self
                .create_user(
                    &caller,
                    UserRequest {
                        username: username.clone(),
                        display_name: format!("演示{}", username.trim_start_matches("demo_")),
                        role: (*role).into(),
                        unit: (*unit).into(),
                        password: DEMO_PASSWORD.into(),
                        must_change_password: false,
                    },
                )
                .await?;
            if *role == "province_admin" {
                province = Some(view);
            }
        }
        // The records come in as the province's demo user; the tallies are then confirmed by
        // the operator, a second person as the rule asks.
        let province = province.ok_or_else(|| AppError::Internal("演示用户未创建".into()))?;
        let importer = Caller {
            actor: shequ_domain::access::Actor::User {
                id: province.id,
                username: province.username.clone(),
                role: province.role,
                scope: province.scope.clone(),
            },
            client: "demo".into(),
        };
        let mut records = 0;
        for file in &files {
            let bytes = std::fs::read(&file.path)
                .map_err(|e| AppError::Internal(format!("{}：{e}", file.path.display())))?;
            let source = SourceFile {
                name: file
                    .path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                bytes,
            };
            let report = self.import_records(&importer, &source).await?;
            if !report.errors.is_empty() {
                return Err(AppError::Internal(format!(
                    "演示数据 {} 未能导入：{}",
                    source.name,
                    report.errors.len()
                )));
            }
            records += report.new;
        }
        // The paper tallies, confirmed as a second person would.
        for code in &communities {
            for kind in SurveyKind::ALL {
                self.confirm_tally(&caller, code.as_str(), year, kind, None)
                    .await?;
            }
        }
        // Last month's reports: most communities submitted.
        if now.month() > 1 {
            let month = format!("{year}-{:02}", now.month() - 1);
            for (i, code) in communities.iter().enumerate() {
                if i % 5 != 0 {
                    self.submit_report(&caller, code.as_str(), &month).await?;
                }
            }
        }
        self.store.set_state(DEMO_KEY, &now.to_string()).await?;
        Ok(DemoSummary {
            communities: communities.len(),
            records,
            users: users.into_iter().map(|(u, r, _)| (u, r)).collect(),
        })
    }
}

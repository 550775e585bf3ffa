//! What each role lands on after signing in: a community worker on its month's to-do, an
//! officer on its units' reporting and the reviews waiting for it, the province on its
//! bulletin.

use shequ_domain::access::{Actor, Role};
use shequ_domain::codes::Level;
use shequ_domain::evaluation::{Status, SurveyInput};
use shequ_domain::reports::Period;
use shequ_domain::units::Unit;

use crate::reports::{Basis, MonthStatus, PeriodView, ReportStatus};
use crate::{App, AppError, Caller, today};

/// A to-do line: what, and where to do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub text: String,
    pub link: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Dashboard {
    Community {
        unit: Unit,
        /// The month whose report is due now (the last month ended).
        report_month: Period,
        /// None when the community was not yet open at that month's end.
        report: Option<Box<MonthStatus>>,
        /// This month so far.
        this_month: Box<PeriodView>,
        todos: Vec<Todo>,
    },
    Officer {
        unit: Unit,
        month: Period,
        view: Box<PeriodView>,
        /// Communities whose review waits for the caller's level.
        reviews_waiting: Vec<Unit>,
    },
    /// The province (and anyone without a narrower scope) reads the bulletin.
    Bulletin { unit: Unit, period: Period },
}

/// The last month that has ended, whose report is due in the current month.
fn last_month() -> Period {
    let t = today();
    if t.month() == 1 {
        Period::Month {
            year: t.year() - 1,
            month: 12,
        }
    } else {
        Period::Month {
            year: t.year(),
            month: t.month() - 1,
        }
    }
}

impl App {
    pub async fn dashboard(&self, caller: &Caller) -> Result<Dashboard, AppError> {
        let (role, scope) = match &caller.actor {
            Actor::User { role, scope, .. } => (*role, scope.clone()),
            Actor::Operator { .. } => {
                return Err(AppError::BadRequest("命令行没有工作台".into()));
            }
        };
        let unit = self.readable_unit(caller, scope.as_str()).await?;
        let month = last_month();
        if role == Role::ProvinceAdmin || unit.level == Level::Province {
            return Ok(Dashboard::Bulletin {
                unit,
                period: month,
            });
        }
        if unit.level == Level::Committee {
            let may_submit = shequ_domain::access::may_write_records(
                &caller.actor,
                &crate::records::unit_path(&unit),
            );
            return self.community_dashboard(unit, month, may_submit).await;
        }
        let view = self.period_view(unit.clone(), month, Basis::Live).await?;
        let mut reviews_waiting = Vec::new();
        if role == Role::Officer {
            for c in &view.communities {
                let chain = self.chain_of(&c.unit)?;
                if chain.awaiting(c.evaluated.review_state) == Some(unit.level) {
                    reviews_waiting.push(c.unit.clone());
                }
            }
        }
        Ok(Dashboard::Officer {
            unit,
            month,
            view: Box::new(view),
            reviews_waiting,
        })
    }

    async fn community_dashboard(
        &self,
        unit: Unit,
        month: Period,
        may_submit: bool,
    ) -> Result<Dashboard, AppError> {
        let t = today();
        let code = unit.code.as_str().to_string();
        let due_view = self.period_view(unit.clone(), month, Basis::Live).await?;
        let this_month = self
            .period_view(
                unit.clone(),
                Period::Month {
                    year: t.year(),
                    month: t.month(),
                },
                Basis::Live,
            )
            .await?;
        let report = due_view
            .communities
            .first()
            .and_then(|c| c.months.first().cloned())
            .filter(|m| m.status != ReportStatus::NotExpected);
        let mut todos = Vec::new();
        match &report {
            Some(r) if r.status == ReportStatus::Missing => todos.push(Todo {
                text: if may_submit {
                    format!("报送{}月报（截止 {}）", month.label_zh(), r.due)
                } else {
                    format!("{}月报尚未报送（截止 {}）", month.label_zh(), r.due)
                },
                link: format!("/units/{code}/reports/{month}"),
            }),
            Some(r) if r.changed => todos.push(Todo {
                text: format!("{}月报报送后记录有变更，可重新报送", month.label_zh()),
                link: format!("/units/{code}/reports/{month}"),
            }),
            _ => {}
        }
        let year = t.year();
        if let Some(e) = this_month.communities.first().map(|c| &c.evaluated) {
            for r in &e.evaluation.indicators {
                if r.status == Status::Missing {
                    todos.push(Todo {
                        text: format!("考评指标第 {} 项缺少数据：{}", r.number, r.detail),
                        link: format!("/units/{code}/evaluations/{year}"),
                    });
                }
            }
            for (kind, state) in &e.surveys {
                if let SurveyInput::Pending(why) = state {
                    todos.push(Todo {
                        text: format!("{}{}", kind.label_zh(), why),
                        link: format!("/units/{code}/surveys/{year}"),
                    });
                }
            }
        }
        Ok(Dashboard::Community {
            unit,
            report_month: month,
            report: report.map(Box::new),
            this_month: Box::new(this_month),
            todos,
        })
    }
}

//! Reading the audit log: admins everywhere, officers for their scope.

use shequ_domain::access::{Actor, Role, covers};
use shequ_domain::codes::DivisionCode;
use shequ_store::AuditRecord;

use crate::{App, AppError, Caller};

/// Entries per page.
pub const AUDIT_PAGE: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// Cursor of the next (older) page.
    pub next: Option<String>,
}

impl App {
    /// The subtree an admin or officer asks about: an admin any unit or everything (None), an
    /// officer its own scope or a unit inside it; other roles are refused with `refusal`.
    pub(crate) async fn supervised_scope(
        &self,
        caller: &Caller,
        unit: Option<&str>,
        refusal: &str,
    ) -> Result<Option<DivisionCode>, AppError> {
        let unit = match unit.map(str::trim).filter(|u| !u.is_empty()) {
            Some(text) => Some(
                DivisionCode::parse(text)
                    .map_err(|e| AppError::BadRequest(format!("单位代码无效：{e}")))?,
            ),
            None => None,
        };
        match &caller.actor {
            Actor::Operator { .. }
            | Actor::User {
                role: Role::ProvinceAdmin,
                ..
            } => Ok(unit),
            Actor::User {
                role: Role::Officer,
                scope,
                ..
            } => {
                let wanted = unit.unwrap_or_else(|| scope.clone());
                let mut path = self
                    .store
                    .ancestor_codes(&wanted)
                    .await
                    .map_err(|_| AppError::NotFound(format!("单位 {wanted} 不存在")))?;
                path.push(wanted.clone());
                if !covers(scope, &path) {
                    return Err(AppError::Forbidden(format!(
                        "单位 {wanted} 不在您的管辖范围内"
                    )));
                }
                Ok(Some(wanted))
            }
            Actor::User { .. } => Err(AppError::Forbidden(refusal.to_string())),
        }
    }

    /// Newest first. `unit` narrows to a subtree; an officer sees only its own scope.
    pub async fn audit_log(
        &self,
        caller: &Caller,
        unit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<AuditPage, AppError> {
        let unit = self
            .supervised_scope(caller, unit, "您没有查看操作日志的权限")
            .await?;
        let before = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(
                c.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| AppError::BadRequest(format!("翻页位置“{c}”无效")))?,
            ),
            None => None,
        };
        let mut items = self
            .store
            .audit_entries(unit.as_ref(), before, AUDIT_PAGE + 1)
            .await?;
        let next = if items.len() as i64 > AUDIT_PAGE {
            items.truncate(AUDIT_PAGE as usize);
            items.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(AuditPage { items, next })
    }
}

/// Most entries one export holds.
const EXPORT_LIMIT: usize = 200_000;

impl App {
    /// The audit log the caller may read, as CSV for a spreadsheet program.
    pub async fn audit_csv(
        &self,
        caller: &Caller,
        unit: Option<&str>,
    ) -> Result<Vec<u8>, AppError> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.audit_log(caller, unit, cursor.as_deref()).await?;
            rows.extend(page.items.into_iter().map(|r| {
                vec![
                    r.id.to_string(),
                    r.at,
                    r.entry.actor,
                    r.entry.role,
                    r.entry.action,
                    r.entry.unit.map(|u| u.to_string()).unwrap_or_default(),
                    r.entry.object,
                    r.entry.summary,
                    r.entry.client,
                ]
            }));
            match page.next {
                Some(next) if rows.len() < EXPORT_LIMIT => cursor = Some(next),
                _ => break,
            }
        }
        shequ_interchange::export::csv_bytes(
            &[
                "编号",
                "时间(UTC)",
                "操作人",
                "角色",
                "操作",
                "单位代码",
                "对象",
                "摘要",
                "来源地址",
            ],
            &rows,
        )
        .map_err(AppError::Internal)
    }
}

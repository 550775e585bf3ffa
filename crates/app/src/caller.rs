//! Who is calling a use case and from where: what permission checks and the audit log need.

use shequ_domain::access::{Actor, Role};
use shequ_domain::codes::DivisionCode;
use shequ_store::AuditEntry;

use crate::AppError;

/// Longest audit summary kept; longer ones are cut.
const MAX_SUMMARY_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    /// The client address, or `cli` for the command line.
    pub client: String,
}

/// Without a user name in the environment (a service or container), the numeric user id still
/// says who ran the command.
fn os_user_id() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            return format!("uid-{}", meta.uid());
        }
    }
    "unknown".to_string()
}

impl Caller {
    /// The operator at the command line, with full authority, named by the operating-system
    /// user in the audit log.
    pub fn operator() -> Caller {
        let os_user = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
            .unwrap_or_else(os_user_id);
        Caller {
            actor: Actor::Operator { os_user },
            client: "cli".to_string(),
        }
    }

    /// Reference data (the standard, the divisions, the groups) is the province's to change.
    /// Backups, restores and repairs are the server operator's, at the command line.
    pub fn require_operator(&self) -> Result<(), AppError> {
        match &self.actor {
            Actor::Operator { .. } => Ok(()),
            Actor::User { .. } => Err(AppError::Forbidden(
                "备份、恢复与数据检查只能由服务器管理员在命令行进行".into(),
            )),
        }
    }

    pub fn require_operator_or_province_admin(&self) -> Result<(), AppError> {
        match &self.actor {
            Actor::Operator { .. }
            | Actor::User {
                role: Role::ProvinceAdmin,
                ..
            } => Ok(()),
            Actor::User { .. } => Err(AppError::Forbidden(
                "只有省级管理员可以修改标准、区划和分组".into(),
            )),
        }
    }

    pub fn audit(
        &self,
        action: &str,
        unit: Option<&DivisionCode>,
        object: &str,
        summary: &str,
    ) -> AuditEntry {
        AuditEntry {
            actor: self.actor.audit_name(),
            role: self.actor.audit_role().to_string(),
            action: action.to_string(),
            unit: unit.cloned(),
            object: shequ_domain::text::excerpt(object, 200),
            summary: shequ_domain::text::excerpt(summary, MAX_SUMMARY_CHARS),
            client: self.client.clone(),
        }
    }
}

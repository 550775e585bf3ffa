use shequ_domain::StandardError;
use shequ_interchange::FileProblem;
use shequ_store::StoreError;

/// Every way a use case can fail, for the web layer to map to a status and the CLI to an exit.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// Signed in, but the role or scope does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Not signed in, or the session has ended.
    #[error("{0}")]
    Unauthenticated(String),
    /// A file had problems; nothing was written.
    #[error("文件有 {} 处错误，未导入任何数据：\n{}", .0.len(), summarise(.0))]
    InvalidFile(Vec<FileProblem>),
    #[error("{0}")]
    TooManyAttempts(String),
    /// What the caller saw has changed since; nothing was done.
    #[error("{0}")]
    Conflict(String),
    #[error("服务器内部错误：{0}")]
    Internal(String),
    #[error("系统正在初始化，请稍后再试")]
    NotReady,
    #[error(transparent)]
    Standard(#[from] StandardError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Shows the first problems of a long list; the rest are counted.
fn summarise(problems: &[FileProblem]) -> String {
    const SHOWN: usize = 50;
    let mut lines: Vec<String> = problems
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect();
    if problems.len() > SHOWN {
        lines.push(format!("……另有 {} 处错误未列出", problems.len() - SHOWN));
    }
    lines.join("\n")
}

impl AppError {
    /// Whether the fault is the caller's (a 4xx) rather than the system's.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            AppError::NotFound(_)
                | AppError::BadRequest(_)
                | AppError::Forbidden(_)
                | AppError::Unauthenticated(_)
                | AppError::TooManyAttempts(_)
                | AppError::Conflict(_)
                | AppError::InvalidFile(_)
                | AppError::Standard(_)
                | AppError::Store(StoreError::StandardConflict(_) | StoreError::Conflict)
        )
    }
}

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("数据库地址无法识别：{0}（应为 sqlite://文件路径 或 postgres://...）")]
    BadUrl(String),
    #[error("数据库版本 {found} 比本程序支持的 {supported} 新，请升级 shequ 后再启动")]
    DatabaseTooNew { found: i64, supported: i64 },
    #[error("标准版本 {0} 已存在且内容不同；新版本请使用新的版本号")]
    StandardConflict(String),
    #[error("单位 {0} 不存在")]
    UnknownUnit(String),
    #[error("数据库中的数据无法解读：{0}")]
    Corrupt(String),
    #[error("用户名 {0} 已被使用")]
    DuplicateUsername(String),
    #[error("数据已被另一项导入修改，请重试")]
    Conflict,
    #[error("{unit} 的 {year} 年台账已随自评报送锁定，退回前不能修改")]
    Locked { unit: String, year: i16 },
    #[error("记录不存在")]
    NotFound,
    #[error("该社区这一年的考评已经省级终审，只有省级重新开启后才能修改")]
    ReviewFinal,
    #[error("记录重复：{0}")]
    DuplicateRecord(String),
    #[error("{0}")]
    Unsupported(String),
    /// A writer waited its whole turn behind another write (a large import, say).
    #[error("数据库正忙：另一项写入（如大批导入）尚未完成，请稍后重试")]
    Busy,
    /// Not marked as a source: the message already says it, and error chains would repeat it.
    #[error("数据库错误：{}", describe(.0))]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::PoolTimedOut => {
            "无法连接数据库（等待超时，请检查数据库地址和服务是否可用）".into()
        }
        sqlx::Error::Io(io) => format!("无法连接数据库：{io}"),
        other => other.to_string(),
    }
}

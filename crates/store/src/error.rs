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
    #[error("数据库错误：{0}")]
    Database(#[from] sqlx::Error),
}

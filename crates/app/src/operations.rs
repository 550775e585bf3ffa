//! Running shequ for years on one server: consistent online backups (SQLite by `VACUUM INTO`,
//! PostgreSQL by pg_dump), restores that never overwrite without being told to and check what
//! they put in place, the consistency check with its repair, and pruning scheduled backups.
//!
//! Evidence files are stored in the database, so a backup of the database holds them too.

use std::path::{Path, PathBuf};
use std::process::Command;

use shequ_store::{ConsistencyReport, OperationsStore, SqlStore, Store};

use crate::{App, AppError, Caller};

/// The first bytes of a SQLite database file and of a pg_dump custom-format archive.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const PGDUMP_MAGIC: &[u8] = b"PGDMP";

/// The file the SQLite database lives in, inside the data directory.
pub const SQLITE_FILE: &str = "shequ.db";

/// What a backup file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    Sqlite,
    PgDump,
}

impl BackupKind {
    /// The extension scheduled backups get.
    pub fn extension(self) -> &'static str {
        match self {
            BackupKind::Sqlite => "db",
            BackupKind::PgDump => "pgdump",
        }
    }

    fn of_file(path: &Path) -> Result<BackupKind, AppError> {
        use std::io::Read;
        let mut head = [0u8; 16];
        let mut file = std::fs::File::open(path).map_err(|e| {
            AppError::BadRequest(format!("无法读取备份文件 {}：{e}", path.display()))
        })?;
        let n = file.read(&mut head).map_err(|e| {
            AppError::BadRequest(format!("无法读取备份文件 {}：{e}", path.display()))
        })?;
        if head[..n].starts_with(SQLITE_MAGIC) {
            Ok(BackupKind::Sqlite)
        } else if head[..n].starts_with(PGDUMP_MAGIC) {
            Ok(BackupKind::PgDump)
        } else {
            Err(AppError::BadRequest(format!(
                "{} 不是 shequ 的备份文件（既不是 SQLite 数据库，也不是 pg_dump 归档）",
                path.display()
            )))
        }
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A temporary name beside the target, so a failed step leaves the target as it was.
fn beside(target: &Path, what: &str) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "shequ".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> AppError {
    AppError::Internal(format!("{what} {}：{e}", path.display()))
}

/// Removes a file and the journals SQLite may have left beside it.
fn remove_with_journals(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A name for the database being replaced that no earlier restore has used.
fn kept_name(data_dir: &Path) -> PathBuf {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.6fZ")
        .to_string();
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let candidate = data_dir.join(format!("{SQLITE_FILE}.before-restore-{stamp}{suffix}"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

/// Runs a PostgreSQL client program, saying what to install when it is missing. The database
/// URL is passed as an argument and never logged.
fn run_pg_tool(program: &str, args: &[&str]) -> Result<(), AppError> {
    let output = Command::new(program).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            AppError::BadRequest(format!(
                "未找到 {program}：PostgreSQL 数据库的备份与恢复需要 PostgreSQL 客户端程序\
                 （Debian/Ubuntu：apt-get install postgresql-client，版本不低于服务器）"
            ))
        } else {
            AppError::Internal(format!("无法运行 {program}：{e}"))
        }
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(AppError::Internal(format!(
            "{program} 失败（{}）：{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreOutcome {
    pub kind: BackupKind,
    /// Where the database that was there before went (SQLite, with `--force`).
    pub kept_previous: Option<PathBuf>,
    pub check: ConsistencyReport,
}

impl App {
    /// Writes a consistent backup of the whole database to `dest` while the server goes on
    /// serving: a SQLite database file, or a pg_dump archive for PostgreSQL. Written beside
    /// `dest` and renamed at the end, so a failed backup leaves nothing half-written; an
    /// existing file is not overwritten.
    pub async fn backup(
        &self,
        caller: &Caller,
        database_url: &str,
        dest: &Path,
    ) -> Result<BackupKind, AppError> {
        caller.require_operator()?;
        if dest.exists() {
            return Err(AppError::BadRequest(format!(
                "{} 已存在；备份不覆盖已有文件",
                dest.display()
            )));
        }
        let temp = beside(dest, "partial");
        remove_with_journals(&temp);
        let made = self.write_backup(database_url, &temp).await;
        let kind = match made {
            Ok(kind) => kind,
            Err(e) => {
                // A failed backup leaves nothing behind.
                remove_with_journals(&temp);
                return Err(e);
            }
        };
        let finished = std::fs::File::open(&temp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&temp, dest));
        if let Err(e) = finished {
            remove_with_journals(&temp);
            return Err(io_error("无法写入备份", dest, e));
        }
        let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        let audit = caller.audit(
            "ops.backup",
            None,
            &dest.display().to_string(),
            &format!("备份数据库（{} 字节）", size),
        );
        self.store.append_audit(&audit).await?;
        Ok(kind)
    }

    async fn write_backup(&self, database_url: &str, temp: &Path) -> Result<BackupKind, AppError> {
        if let Some(dir) = temp.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(AppError::BadRequest(format!(
                "备份目录 {} 不存在",
                dir.display()
            )));
        }
        Ok(if is_postgres(database_url) {
            let target = temp.to_string_lossy().into_owned();
            let url = database_url.to_string();
            tokio::task::spawn_blocking(move || {
                run_pg_tool(
                    "pg_dump",
                    &[
                        "--format=custom",
                        "--no-owner",
                        "--file",
                        &target,
                        "--dbname",
                        &url,
                    ],
                )
            })
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
            BackupKind::PgDump
        } else {
            self.store.backup_into(temp).await.map_err(|e| {
                AppError::BadRequest(format!(
                    "无法写入备份文件 {}（目录不可写或磁盘已满？）：{e}",
                    temp.display()
                ))
            })?;
            BackupKind::Sqlite
        })
    }

    /// Compares every aggregate count with a recomputation from the records; with `repair`,
    /// rebuilds the counts that differ and checks again.
    pub async fn check(
        &self,
        caller: &Caller,
        repair: bool,
    ) -> Result<(ConsistencyReport, Option<ConsistencyReport>), AppError> {
        caller.require_operator()?;
        let before = self.store.check_consistency().await?;
        if !repair || before.fact_mismatches.is_empty() {
            return Ok((before, None));
        }
        self.store.rebuild_record_facts().await?;
        let audit = caller.audit(
            "ops.repair",
            None,
            "record_facts",
            &format!(
                "重建汇总计数：修正 {} 处不一致",
                before.fact_mismatches.len()
            ),
        );
        self.store.append_audit(&audit).await?;
        let after = self.store.check_consistency().await?;
        Ok((before, Some(after)))
    }
}

/// A SQLite file is whole pages of the size its header names; a truncated copy is not.
fn check_sqlite_size(path: &Path) -> Result<(), AppError> {
    use std::io::Read;
    let mut header = [0u8; 100];
    let len = std::fs::metadata(path)
        .map_err(|e| io_error("无法读取", path, e))?
        .len();
    let whole = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok();
    let page = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    if !whole || page < 512 || len < page || len % page != 0 {
        return Err(AppError::BadRequest(format!(
            "备份文件 {} 不完整（{len} 字节，不是整数个 {page} 字节的页），可能在复制中被截断",
            path.display()
        )));
    }
    Ok(())
}

/// Opens a SQLite copy and checks it is an undamaged shequ database.
async fn check_sqlite_copy(path: &Path) -> Result<(), AppError> {
    let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .map_err(|e| {
            AppError::BadRequest(format!("备份文件无法打开，可能已损坏或不完整（{e}）"))
        })?;
    // A shequ database has its migrations table; anything else is not one of ours.
    let ours = store.is_shequ_database().await.unwrap_or(false);
    if !ours {
        store.close().await;
        return Err(AppError::BadRequest(
            "备份文件不是可用的 shequ 数据库（没有 shequ 的数据表）".into(),
        ));
    }
    // Bring the copy (not the live directory) up to this version first: an older backup is
    // upgraded, a newer one refused, before anything is replaced.
    if let Err(e) = store.migrate().await {
        store.close().await;
        return Err(AppError::BadRequest(format!("备份文件无法使用：{e}")));
    }
    let report = store.check_consistency().await;
    store.close().await;
    let report = report
        .map_err(|e| AppError::BadRequest(format!("备份文件不是可用的 shequ 数据库：{e}")))?;
    if report.integrity.is_empty() {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "备份文件已损坏：{}",
            report.integrity.join("；")
        )))
    }
}

/// Whether a data directory holds anything (a missing one holds nothing).
fn dir_has_entries(dir: &Path) -> Result<bool, AppError> {
    match std::fs::read_dir(dir) {
        // The lock file is the directory's, not data.
        Ok(entries) => Ok(entries
            .filter_map(Result::ok)
            .any(|e| e.file_name() != DataDirLock::FILE)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("无法读取数据目录", dir, e)),
    }
}

/// Restores a backup: a SQLite file into the data directory (refused when the directory is
/// not empty unless `force`, which keeps the previous database beside it), or a pg_dump
/// archive into the PostgreSQL database (refused when it has tables unless `force`). The
/// backup is checked before it is put in place, brought up to this version's schema after,
/// and checked again.
pub async fn restore(
    backup: &Path,
    database_url: &str,
    data_dir: &Path,
    force: bool,
) -> Result<RestoreOutcome, AppError> {
    let kind = BackupKind::of_file(backup)?;
    let postgres = is_postgres(database_url);
    let mut kept_previous = None;
    match (kind, postgres) {
        (BackupKind::Sqlite, false) => {
            check_sqlite_size(backup)?;
            let log = PathBuf::from(format!("{}-wal", backup.display()));
            if std::fs::metadata(&log).is_ok_and(|m| m.len() > 0) {
                return Err(AppError::BadRequest(format!(
                    "{} 旁有未合并的日志 {}：这是正在使用或未正常关闭的数据库文件，不是备份；请用 shequ backup 制作备份",
                    backup.display(),
                    log.display()
                )));
            }
            let lock = crate::operations::DataDirLock::try_acquire(data_dir)?;
            if dir_has_entries(data_dir)? && !force {
                return Err(AppError::Conflict(format!(
                    "数据目录 {} 不为空；恢复会替换其中的数据库，如确要替换请加 --force（原数据库将改名保留）",
                    data_dir.display()
                )));
            }
            std::fs::create_dir_all(data_dir)
                .map_err(|e| io_error("无法创建数据目录", data_dir, e))?;
            let target = data_dir.join(SQLITE_FILE);
            let temp = beside(&target, "restoring");
            let copied = std::fs::copy(backup, &temp)
                .and_then(|_| std::fs::File::open(&temp).and_then(|f| f.sync_all()));
            if let Err(e) = copied {
                remove_with_journals(&temp);
                return Err(io_error("无法写入", &temp, e));
            }
            // Check the very copy that will be put in place: a damaged, foreign or newer
            // backup replaces nothing.
            if let Err(e) = check_sqlite_copy(&temp).await {
                remove_with_journals(&temp);
                return Err(e);
            }
            // What is there goes aside under a name no restore has used, its write-ahead log
            // with it (it may hold the last writes), or an orphaned log alone.
            let previous = kept_name(data_dir);
            let mut moved_any = false;
            for suffix in ["", "-wal", "-shm"] {
                let from = data_dir.join(format!("{SQLITE_FILE}{suffix}"));
                if from.exists() {
                    let to = PathBuf::from(format!("{}{suffix}", previous.display()));
                    std::fs::rename(&from, &to)
                        .map_err(|e| io_error("无法保留原数据库", &from, e))?;
                    moved_any = true;
                }
            }
            if moved_any {
                kept_previous = Some(previous);
            }
            std::fs::rename(&temp, &target).map_err(|e| io_error("无法写入", &target, e))?;
            // Should closing the checked copy have left its log behind, the log holds the
            // migration just applied: it goes with the copy.
            for suffix in ["-wal", "-shm"] {
                let from = PathBuf::from(format!("{}{suffix}", temp.display()));
                if from.exists() {
                    let to = data_dir.join(format!("{SQLITE_FILE}{suffix}"));
                    std::fs::rename(&from, &to).map_err(|e| io_error("无法写入", &to, e))?;
                }
            }
            drop(lock);
        }
        (BackupKind::PgDump, true) => {
            let store = SqlStore::connect(database_url).await?;
            let has_tables = store.has_tables().await?;
            let others = store.other_sessions().await?;
            store.close().await;
            if others > 0 {
                return Err(AppError::Conflict(format!(
                    "目标数据库正被 {others} 个其他连接使用（服务器在运行？）；请先停止服务器再恢复"
                )));
            }
            if has_tables && !force {
                return Err(AppError::Conflict(
                    "目标 PostgreSQL 数据库不为空；恢复会替换其中的数据，如确要替换请加 --force"
                        .into(),
                ));
            }
            let file = backup.to_string_lossy().into_owned();
            let url = database_url.to_string();
            tokio::task::spawn_blocking(move || {
                let mut args = vec!["--no-owner", "--exit-on-error", "--single-transaction"];
                if has_tables {
                    args.extend(["--clean", "--if-exists"]);
                }
                args.extend(["--dbname", &url, &file]);
                run_pg_tool("pg_restore", &args)
            })
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
            let store = SqlStore::connect(database_url).await?;
            let ours = store.is_shequ_database().await.unwrap_or(false);
            store.close().await;
            if !ours {
                return Err(AppError::BadRequest(
                    "恢复的归档不是 shequ 的备份（没有 shequ 的数据表）；请检查目标数据库".into(),
                ));
            }
        }
        (BackupKind::Sqlite, true) => {
            return Err(AppError::BadRequest(
                "这是 SQLite 备份，不能恢复到 PostgreSQL 数据库；请不设 --database-url 恢复到数据目录".into(),
            ));
        }
        (BackupKind::PgDump, false) => {
            return Err(AppError::BadRequest(
                "这是 PostgreSQL 备份（pg_dump），请用 --database-url 指定要恢复到的 PostgreSQL 数据库".into(),
            ));
        }
    }
    let url = if postgres {
        database_url.to_string()
    } else {
        format!("sqlite://{}?mode=rwc", data_dir.join(SQLITE_FILE).display())
    };
    // Opening migrates: a backup from an older version is brought up to this one.
    let app = App::open(&url).await?;
    let check = app.store.check_consistency().await?;
    let audit = Caller::operator().audit(
        "ops.restore",
        None,
        &backup.display().to_string(),
        "从备份恢复数据库",
    );
    app.store.append_audit(&audit).await?;
    Ok(RestoreOutcome {
        kind,
        kept_previous,
        check,
    })
}

/// An advisory lock on a data directory: `serve` holds it while running, and a restore takes it,
/// so that a restore never swaps the database under a running server.
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    pub const FILE: &'static str = "shequ.lock";

    pub fn try_acquire(data_dir: &Path) -> Result<DataDirLock, AppError> {
        std::fs::create_dir_all(data_dir).map_err(|e| io_error("无法创建数据目录", data_dir, e))?;
        let path = data_dir.join(Self::FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error("无法打开", &path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(AppError::Conflict(format!(
                "数据目录 {} 正被运行中的 shequ 服务器使用；请先停止服务器",
                data_dir.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(io_error("无法锁定", &path, e)),
        }
    }
}

/// Removes the oldest scheduled backups (`shequ-*.db` / `shequ-*.pgdump`, named by time) so
/// that `keep` remain; returns what was removed.
pub fn prune_backups(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, AppError> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error("无法读取备份目录", dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| is_scheduled_backup_name(&n.to_string_lossy()))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let removed: Vec<PathBuf> = backups.into_iter().take(excess).collect();
    for path in &removed {
        std::fs::remove_file(path).map_err(|e| io_error("无法删除旧备份", path, e))?;
    }
    Ok(removed)
}

/// The name of a scheduled backup taken now, to the millisecond: sorts by time.
pub fn scheduled_backup_name(kind: BackupKind) -> String {
    format!(
        "shequ-{}.{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ"),
        kind.extension()
    )
}

/// Exactly the names [`scheduled_backup_name`] gives (`shequ-20101204T074639.123Z.db`), so
/// pruning never touches a file someone else put there.
fn is_scheduled_backup_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("shequ-") else {
        return false;
    };
    let Some(stamp) = rest
        .strip_suffix(".db")
        .or_else(|| rest.strip_suffix(".pgdump"))
    else {
        return false;
    };
    let b = stamp.as_bytes();
    b.len() == 20
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'.'
        && b[16..19].iter().all(u8::is_ascii_digit)
        && b[19] == b'Z'
}

impl App {
    pub fn backup_kind_for(database_url: &str) -> BackupKind {
        if is_postgres(database_url) {
            BackupKind::PgDump
        } else {
            BackupKind::Sqlite
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for name in [
            "shequ-20101201T000000.000Z.db",
            "shequ-20101202T000000.000Z.db",
            "shequ-20101203T000000.000Z.db",
            "notes.txt",
            "shequ.db",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        let removed = prune_backups(dir.path(), 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            removed,
            vec![dir.path().join("shequ-20101201T000000.000Z.db")]
        );
        assert!(dir.path().join("notes.txt").exists());
        assert!(dir.path().join("shequ.db").exists());
        assert!(dir.path().join("shequ-20101203T000000.000Z.db").exists());
        assert!(is_scheduled_backup_name(&scheduled_backup_name(
            BackupKind::Sqlite
        )));
        assert!(is_scheduled_backup_name(&scheduled_backup_name(
            BackupKind::PgDump
        )));
    }

    #[test]
    fn backups_are_recognised_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sqlite = dir.path().join("a");
        std::fs::write(&sqlite, b"SQLite format 3\0rest").unwrap_or_else(|e| panic!("{e}"));
        let dump = dir.path().join("b");
        std::fs::write(&dump, b"PGDMP\x01").unwrap_or_else(|e| panic!("{e}"));
        let other = dir.path().join("c");
        std::fs::write(&other, b"PK\x03\x04").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(BackupKind::of_file(&sqlite).ok(), Some(BackupKind::Sqlite));
        assert_eq!(BackupKind::of_file(&dump).ok(), Some(BackupKind::PgDump));
        assert!(BackupKind::of_file(&other).is_err());
        assert!(BackupKind::of_file(&dir.path().join("missing")).is_err());
    }
}

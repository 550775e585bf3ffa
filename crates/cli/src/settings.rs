//! Settings from, in order of precedence, the command line, the environment, an optional TOML
//! file (`--config FILE`) and the defaults. The file takes the same settings as the flags;
//! an unknown key or a bad value is an error that names it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::config::{Cli, Command};

pub const DEFAULT_DATA_DIR: &str = "./shequ-data";
pub const DEFAULT_DEMO_DIR: &str = "./shequ-demo";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_BACKUP_KEEP: usize = 14;

/// The commented example `shequ default-config` prints; every line, uncommented, is valid.
pub const EXAMPLE: &str = r#"# shequ 配置文件（TOML）。命令行参数优先，其次环境变量，再次本文件，最后默认值。
# 检查：shequ check-config 本文件    启动：shequ serve --config 本文件

# 数据目录：SQLite 数据库（含证据文件）所在目录
# data_dir = "./shequ-data"

# 使用 PostgreSQL 时的数据库地址（不设则用数据目录中的 SQLite）
# database_url = "postgres://shequ@127.0.0.1:5432/shequ"

# 监听地址与端口
# listen = "127.0.0.1:8080"

# 反向代理地址：只信任这些地址发来的 X-Forwarded-For / X-Forwarded-Proto
# trusted_proxies = ["127.0.0.1"]

# 居民访问本系统的地址（投票二维码中的链接）
# public_url = "https://shequ.example.gov.cn"

# 日志格式：text 或 json（每行带 request_id）
# log_format = "text"

# 单个请求的最长处理时间，超时返回 408
# request_timeout = "60s"

# 定时备份（serve 运行时）：间隔、保留份数、备份目录（默认为数据目录下的 backups）
# [backup]
# every = "24h"
# keep = 14
# dir = "./shequ-data/backups"
"#;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    public_url: Option<String>,
    log_format: Option<String>,
    request_timeout: Option<String>,
    backup: Option<BackupConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupConfig {
    every: Option<String>,
    keep: Option<usize>,
    dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("日志格式“{other}”无效，应为 text 或 json")),
    }
}

/// A length of time written `24h`, `30m`, `90s` or `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let span: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_| format!("时长“{text}”无效，应写作 24h、30m、90s 或 1h 30m"))?;
    let duration = Duration::try_from(span).map_err(|_| format!("时长“{text}”不能为负"))?;
    if duration.is_zero() {
        return Err(format!("时长“{text}”不能为零"));
    }
    Ok(duration)
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
}

impl Database {
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join(shequ_app::SQLITE_FILE).display()
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    pub every: Duration,
    pub keep: usize,
    pub dir: PathBuf,
}

/// Everything resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub database: Database,
    pub listen: SocketAddr,
    pub trusted_proxies: Vec<IpAddr>,
    pub public_url: Option<String>,
    pub log_format: LogFormat,
    pub request_timeout: Duration,
    pub backup: Option<BackupSchedule>,
    /// The file read, if any.
    pub config_file: Option<PathBuf>,
    /// Serving the demo.
    pub demo: bool,
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("无法读取配置文件 {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("配置文件 {} 有误：{e}", path.display()))
}

fn in_file<T>(path: &Path, key: &str, value: Result<T, String>) -> anyhow::Result<T> {
    value.map_err(|e| anyhow::anyhow!("配置文件 {} 的 {key}：{e}", path.display()))
}

impl Settings {
    pub fn resolve(cli: &Cli) -> anyhow::Result<Settings> {
        let path = cli.config.clone();
        let file = match &path {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let file_path = path.clone().unwrap_or_default();
        let demo = matches!(cli.command, Command::Serve { demo: true, .. });
        // The demo keeps to its own directory: only a directory given on the command line
        // replaces it, never the configured one.
        let data_dir = if demo {
            cli.database
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DEMO_DIR))
        } else {
            cli.database
                .data_dir
                .clone()
                .or(file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
        };
        let database_url = cli
            .database
            .database_url
            .clone()
            .or(file.database_url.clone());
        if demo && database_url.is_some() {
            bail!(
                "演示模式只使用自己的 SQLite 数据目录，不能与 --database-url / database_url 同用"
            );
        }
        let database = Database {
            database_url,
            data_dir: data_dir.clone(),
        };
        let (flag_listen, flag_proxies, flag_timeout, flag_every, flag_keep, flag_dir) =
            match &cli.command {
                Command::Serve {
                    listen,
                    trusted_proxies,
                    request_timeout,
                    backup_every,
                    backup_keep,
                    backup_dir,
                    ..
                } => (
                    *listen,
                    trusted_proxies.clone(),
                    *request_timeout,
                    *backup_every,
                    *backup_keep,
                    backup_dir.clone(),
                ),
                _ => (None, Vec::new(), None, None, None, None),
            };
        let listen = match (flag_listen, &file.listen) {
            (Some(l), _) => l,
            (None, Some(text)) => in_file(
                &file_path,
                "listen",
                text.parse()
                    .map_err(|_| format!("“{text}”不是地址:端口（如 127.0.0.1:8080）")),
            )?,
            (None, None) => DEFAULT_LISTEN
                .parse()
                .map_err(|_| anyhow::anyhow!("默认监听地址无效"))?,
        };
        let trusted_proxies = if !flag_proxies.is_empty() {
            flag_proxies
        } else {
            file.trusted_proxies
                .iter()
                .flatten()
                .map(|p| {
                    in_file(
                        &file_path,
                        "trusted_proxies",
                        p.parse().map_err(|_| format!("“{p}”不是 IP 地址")),
                    )
                })
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        let public_url = match (&cli.public_url, &file.public_url) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(u)) => Some(in_file(
                &file_path,
                "public_url",
                crate::config::parse_public_url(u),
            )?),
            (None, None) => None,
        };
        let log_format = match (cli.log_format, &file.log_format) {
            (Some(f), _) => f,
            (None, Some(t)) => in_file(&file_path, "log_format", parse_log_format(t))?,
            (None, None) => LogFormat::Text,
        };
        let request_timeout = match (flag_timeout, &file.request_timeout) {
            (Some(d), _) => d,
            (None, Some(t)) => in_file(&file_path, "request_timeout", parse_duration(t))?,
            (None, None) => DEFAULT_REQUEST_TIMEOUT,
        };
        let backup_file = file.backup.unwrap_or_default();
        let every = match (flag_every, &backup_file.every) {
            (Some(d), _) => Some(d),
            (None, Some(t)) => Some(in_file(&file_path, "backup.every", parse_duration(t))?),
            (None, None) => None,
        };
        let keep = flag_keep
            .or(backup_file.keep)
            .unwrap_or(DEFAULT_BACKUP_KEEP);
        if keep == 0 {
            bail!("备份保留份数（backup.keep / --backup-keep）至少为 1");
        }
        let dir = flag_dir
            .or(backup_file.dir)
            .unwrap_or_else(|| data_dir.join("backups"));
        let backup = every.map(|every| BackupSchedule { every, keep, dir });
        Ok(Settings {
            database,
            listen,
            trusted_proxies,
            public_url,
            log_format,
            request_timeout,
            backup,
            config_file: path,
            demo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str]) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from(args.iter().copied())?;
        Settings::resolve(&cli)
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(file.path(), text).unwrap_or_else(|e| panic!("{e}"));
        file
    }

    #[test]
    fn the_example_uncommented_is_valid() {
        let uncommented: String = EXAMPLE
            .lines()
            .filter(|l| l.starts_with("# ") && (l.contains(" = ") || l.starts_with("# [")))
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        assert!(uncommented.contains("[backup]"), "{uncommented}");
        let file = write(&uncommented);
        let path = file.path().to_string_lossy().into_owned();
        let s =
            settings(&["shequ", "--config", &path, "serve"]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            s.listen,
            "127.0.0.1:8080".parse().unwrap_or_else(|e| panic!("{e}"))
        );
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(
            s.backup,
            Some(BackupSchedule {
                every: Duration::from_secs(86_400),
                keep: 14,
                dir: PathBuf::from("./shequ-data/backups"),
            })
        );
        assert_eq!(
            s.database.database_url.as_deref(),
            Some("postgres://shequ@127.0.0.1:5432/shequ")
        );
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file = write(
            "listen = \"0.0.0.0:9000\"\nrequest_timeout = \"5s\"\n[backup]\nevery = \"1h 30m\"\n",
        );
        let path = file.path().to_string_lossy().into_owned();
        let s =
            settings(&["shequ", "--config", &path, "serve"]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.request_timeout, Duration::from_secs(5));
        assert_eq!(
            s.backup.as_ref().map(|b| b.every),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(s.backup.as_ref().map(|b| b.keep), Some(DEFAULT_BACKUP_KEEP));
        let s = settings(&[
            "shequ",
            "--config",
            &path,
            "serve",
            "--listen",
            "127.0.0.1:7000",
            "--backup-keep",
            "3",
        ])
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(s.listen.port(), 7000);
        assert_eq!(s.backup.map(|b| b.keep), Some(3));
        let s = settings(&["shequ", "serve"]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(s.database.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(s.backup, None);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        for (text, wanted) in [
            ("lisen = \"127.0.0.1:1\"\n", "lisen"),
            ("[backup]\nevry = \"1h\"\n", "evry"),
            ("listen = \"here\"\n", "listen"),
            ("log_format = \"xml\"\n", "log_format"),
            ("request_timeout = \"soon\"\n", "request_timeout"),
            ("request_timeout = \"0s\"\n", "request_timeout"),
            ("[backup]\nevery = \"24h\"\nkeep = 0\n", "至少为 1"),
            ("public_url = \"ftp://x\"\n", "public_url"),
            ("trusted_proxies = [\"a.b\"]\n", "trusted_proxies"),
            ("listen = 8080\n", "listen"),
        ] {
            let file = write(text);
            let path = file.path().to_string_lossy().into_owned();
            let e = settings(&["shequ", "--config", &path, "serve"])
                .map(|_| ())
                .unwrap_err();
            assert!(format!("{e:#}").contains(wanted), "{text}: {e:#}");
        }
        let e = settings(&["shequ", "--config", "/nonexistent/shequ.toml", "serve"]).unwrap_err();
        assert!(format!("{e:#}").contains("无法读取配置文件"));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("-1h").is_err());
        assert!(parse_duration("often").is_err());
    }
}

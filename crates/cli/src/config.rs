use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "shequ",
    version,
    about = "“百项服务进社区 打造特色型社区”活动管理系统"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives; every command takes these, so the CLI and the server share data.
#[derive(Args, Clone)]
pub struct DatabaseOptions {
    /// Data directory (the SQLite database and, later, evidence files)
    #[arg(
        long,
        env = "SHEQU_DATA_DIR",
        default_value = "./shequ-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL: postgres://... for PostgreSQL; default is SQLite in the data directory
    #[arg(
        long,
        env = "SHEQU_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

impl DatabaseOptions {
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("shequ.db").display()
            ),
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Start the web server (initialises an empty database with the bundled data first)
    Serve {
        /// Address and port to listen on
        #[arg(long, env = "SHEQU_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Address of a reverse proxy whose X-Forwarded-For / X-Forwarded-Proto are believed
        /// (repeat, or comma-separated in the environment)
        #[arg(
            long = "trusted-proxy",
            env = "SHEQU_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
    },
    /// Import reference data
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print the OpenAPI document of the JSON API
    Openapi,
    /// Accounts
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a user (the first province admin, for example); the password is read from
    /// standard input
    CreateUser {
        #[arg(long)]
        username: String,
        /// province_admin, officer, community_worker, evaluator or viewer
        #[arg(long)]
        role: String,
        /// Code of the unit whose subtree the user works in
        #[arg(long)]
        unit: String,
        /// Display name (default: the username)
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (required: passwords never go on the
        /// command line, where other users and shell history can see them)
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Create users from a list (CSV, xlsx, xls or ods with columns username,name,role,unit or
    /// 用户名,姓名,角色,单位代码); each gets a first password to hand out, to be changed at first
    /// sign-in. All rows or none.
    ImportUsers {
        file: PathBuf,
        /// Write username,password to this file (readable by its owner only) instead of the
        /// standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Dates as offices write them: 2011-03-01, also with full-width digits or 2011/3/1.
fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    use unicode_normalization::UnicodeNormalization;
    let normalised: String = text.nfkc().collect();
    let parts: Vec<&str> = normalised.trim().split(['-', '/', '.']).collect();
    let numbers: Option<Vec<i16>> = parts.iter().map(|p| p.parse().ok()).collect();
    match numbers.as_deref() {
        Some([y, m, d]) if parts[0].len() == 4 => jiff::civil::Date::new(*y, *m as i8, *d as i8)
            .map_err(|_| format!("日期“{text}”不存在")),
        _ => Err(format!("日期“{text}”格式应为 YYYY-MM-DD，如 2011-03-01")),
    }
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Division codes: a folder in the national five-file layout (provinces, cities, areas,
    /// streets, villages; .csv or .csv.gz), or one file `code,name,parent_code` of units a
    /// province adds
    Divisions {
        path: PathBuf,
        /// Date the changes take effect (closings and openings), YYYY-MM-DD; default today
        /// (China time)
        #[arg(long, value_parser = parse_date)]
        as_of: Option<jiff::civil::Date>,
        /// Confirm an import that closes more than 5% of a province's units
        #[arg(long)]
        allow_mass_close: bool,
    },
    /// Unit groups: `group_set,group,code` (further columns ignored)
    Groups { file: PathBuf },
    /// A new version of the standard (TOML, as data/standards/hlj-2010.toml)
    Standard { file: PathBuf },
}

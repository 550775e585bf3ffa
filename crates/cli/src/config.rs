use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use shequ_app::ExportFormat;
use shequ_domain::records::RecordKind;
use shequ_domain::surveys::SurveyKind;

#[derive(Parser)]
#[command(
    name = "shequ",
    version,
    about = "“百项服务进社区 打造特色型社区”活动管理系统"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseOptions,
    /// The address residents reach the server at (behind a gateway), for the voting links in
    /// ballot QR codes, such as https://shequ.example.gov.cn
    #[arg(long, env = "SHEQU_PUBLIC_URL", global = true, value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// A TOML file with the same settings as the flags (see `shequ default-config`); flags and
    /// the environment take precedence over it
    #[arg(long, env = "SHEQU_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log lines as text or json (default text)
    #[arg(long, env = "SHEQU_LOG_FORMAT", global = true, value_parser = crate::settings::parse_log_format)]
    pub log_format: Option<crate::settings::LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

pub(crate) fn parse_public_url(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| format!("“{text}”应以 http:// 或 https:// 开头"))?;
    if rest.is_empty() || rest.contains(['"', '<', '>', ' ', '\'']) {
        return Err(format!("“{text}”不是有效的网址"));
    }
    Ok(t.to_string())
}

fn parse_survey_kind(text: &str) -> Result<SurveyKind, String> {
    SurveyKind::parse(text).ok_or_else(|| {
        format!(
            "未知的测评类型“{text}”，应为：{}",
            SurveyKind::ALL.map(|k| k.as_str()).join("、")
        )
    })
}

/// Which survey: a community, a year and a kind.
#[derive(Args, Clone)]
pub struct SurveyTarget {
    #[arg(long)]
    pub unit: String,
    #[arg(long, value_parser = parse_year)]
    pub year: i16,
    /// cadres, building, services or security
    #[arg(long, value_parser = parse_survey_kind)]
    pub kind: SurveyKind,
}

#[derive(Subcommand)]
pub enum SurveyCommand {
    /// Open a survey (without dates it opens at once and stays open until closed)
    Open {
        #[command(flatten)]
        target: SurveyTarget,
        /// First day ballots count (YYYY-MM-DD)
        #[arg(long, value_parser = parse_date)]
        from: Option<jiff::civil::Date>,
        /// Last day ballots count
        #[arg(long, value_parser = parse_date)]
        to: Option<jiff::civil::Date>,
    },
    /// Issue one-time ballot codes and print them one per line (shown only this once)
    Codes {
        #[command(flatten)]
        target: SurveyTarget,
        #[arg(long)]
        count: usize,
        /// Also write the printable sheet of QR codes (HTML, A4) to this file
        #[arg(long)]
        sheet: Option<PathBuf>,
    },
    /// Void codes of a lost sheet
    Void {
        #[command(flatten)]
        target: SurveyTarget,
        codes: Vec<String>,
    },
    /// Close a survey: results are final and unused codes expire
    Close {
        #[command(flatten)]
        target: SurveyTarget,
    },
    /// Confirm an entered or imported paper tally, as a second person
    Confirm {
        #[command(flatten)]
        target: SurveyTarget,
        /// The counts you checked on the paper, as 满意,基本满意,不满意 (for example 120,30,5);
        /// nothing is confirmed if the entered tally differs
        #[arg(long, value_parser = parse_paper_counts)]
        counts: Option<shequ_app::PaperCounts>,
    },
    /// Print the year's results for a community or everything under a unit
    Results {
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = parse_year)]
        year: i16,
    },
}

/// Where the data lives; every command takes these, so the CLI and the server share data.
#[derive(Args, Clone)]
pub struct DatabaseOptions {
    /// Data directory (the SQLite database, evidence files included) [default: ./shequ-data]
    #[arg(long, env = "SHEQU_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: postgres://... for PostgreSQL; default is SQLite in the data directory
    #[arg(
        long,
        env = "SHEQU_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Start the web server (initialises an empty database with the bundled data first)
    Serve {
        /// Address and port to listen on [default: 127.0.0.1:8080]
        #[arg(long, env = "SHEQU_LISTEN")]
        listen: Option<SocketAddr>,
        /// Address of a reverse proxy whose X-Forwarded-For / X-Forwarded-Proto are believed
        /// (repeat, or comma-separated in the environment)
        #[arg(
            long = "trusted-proxy",
            env = "SHEQU_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Longest time a request may take before it is answered 408 [default: 60s]
        #[arg(long, env = "SHEQU_REQUEST_TIMEOUT", value_parser = crate::settings::parse_duration)]
        request_timeout: Option<std::time::Duration>,
        /// Take a backup this often while serving, such as 24h
        #[arg(long, env = "SHEQU_BACKUP_EVERY", value_parser = crate::settings::parse_duration)]
        backup_every: Option<std::time::Duration>,
        /// How many scheduled backups to keep [default: 14]
        #[arg(long, env = "SHEQU_BACKUP_KEEP")]
        backup_keep: Option<usize>,
        /// Where scheduled backups go [default: the data directory's backups/]
        #[arg(long, env = "SHEQU_BACKUP_DIR")]
        backup_dir: Option<PathBuf>,
        /// Start on a generated demo year for two districts, in its own data directory
        /// (./shequ-demo unless --data-dir is given); never on a real database
        #[arg(long)]
        demo: bool,
    },
    /// A consistent backup of the whole database, evidence files included, taken while the
    /// server keeps serving (SQLite: a database file; PostgreSQL: a pg_dump archive)
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into an empty data directory (or PostgreSQL database)
    Restore {
        file: PathBuf,
        /// Replace what is there (the previous SQLite database is kept beside it)
        #[arg(long)]
        force: bool,
    },
    /// Verify that the counts indicators and reports read equal a recomputation from the
    /// records (exit status 1 when they do not)
    Check {
        /// Rebuild the counts that differ
        #[arg(long)]
        repair: bool,
    },
    /// Write a deterministic, plausible year of records for every community of a divisions
    /// file, as CSV files `shequ import records` takes in name order
    Gen {
        /// The same seed gives the same files byte for byte
        #[arg(long, default_value_t = 2010)]
        seed: u64,
        #[arg(long, value_parser = parse_year)]
        year: i16,
        /// villages.csv (or .csv.gz) of the national layout, or the folder holding it
        #[arg(long)]
        divisions: PathBuf,
        /// Multiplies the records per community (about 2,000 services and 150 activities at 1)
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// A new or empty directory
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a commented example configuration file
    DefaultConfig,
    /// Validate a configuration file without starting anything
    CheckConfig { file: PathBuf },
    /// Import reference data and records
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export records as xlsx or CSV
    #[command(subcommand)]
    Export(ExportCommand),
    /// Community records: locks
    #[command(subcommand)]
    Records(RecordsCommand),
    /// Residents' democratic evaluations
    #[command(subcommand)]
    Survey(SurveyCommand),
    /// Evaluate every community under a unit on the 25 indicators
    Evaluate {
        /// The unit: a community, or any unit above communities (all of them are evaluated)
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = parse_year)]
        year: i16,
        /// Print a JSON array of {unit, name, year, score, award, review_state, indicators}
        #[arg(long)]
        json: bool,
    },
    /// A unit's progress report for a month (2010-03), a quarter (2010-Q1) or a year (2010),
    /// rolled up from every community below it
    Report {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        period: String,
        /// live (the records as they stand) or submitted (the communities' month reports)
        #[arg(long, default_value = "live")]
        basis: String,
        /// Print the JSON of GET /api/v1/units/{code}/reports/{period}
        #[arg(long)]
        json: bool,
        /// Write the bulletin (通报) workbook to this .xlsx file as well
        #[arg(long)]
        bulletin: Option<std::path::PathBuf>,
    },
    /// A step of a community's review chain, taken as the operator
    Review {
        /// submit, approve, return, withdraw or reopen
        #[arg(value_parser = parse_review_action)]
        action: shequ_domain::evaluation::ReviewAction,
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = parse_year)]
        year: i16,
        /// Why (required to return or reopen)
        #[arg(long, default_value = "")]
        reason: String,
    },
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

/// Dates as offices write them: 2011-03-01, 2011/3/1, 2011年3月1日, full-width digits too.
fn parse_review_action(text: &str) -> Result<shequ_domain::evaluation::ReviewAction, String> {
    shequ_domain::evaluation::ReviewAction::parse(text).ok_or_else(|| {
        format!(
            "未知的审核操作“{text}”，应为：{}",
            shequ_domain::evaluation::ReviewAction::ALL
                .map(|a| a.as_str())
                .join("、")
        )
    })
}

fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    shequ_domain::dates::parse_date_text(text)
}

fn parse_kind(text: &str) -> Result<RecordKind, String> {
    RecordKind::parse(text).ok_or_else(|| {
        format!(
            "未知的台账类型“{text}”，应为：{}",
            RecordKind::ALL.map(|k| k.as_str()).join("、")
        )
    })
}

fn parse_format(text: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(text).ok_or_else(|| format!("未知的格式“{text}”，应为 xlsx 或 csv"))
}

fn parse_year(text: &str) -> Result<i16, String> {
    match text.trim().parse::<i16>() {
        Ok(year) if (2000..=2100).contains(&year) => Ok(year),
        _ => Err(format!("年度“{text}”应为 2000 至 2100 之间的四位数")),
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
    /// Community records (a ledger, a register or the profile; the kind is recognised from the
    /// headers): xlsx, xls, ods or CSV (UTF-8 or GB18030). One file is one transaction.
    Records {
        file: PathBuf,
        /// Print {"new","unchanged","changed","errors":[{"row","column","value","reason"}]}
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Records of one kind for a community, or for everything under a unit, in a year
    Records {
        /// Code of a community, or of a street, county, city or province for all below it
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = parse_year)]
        year: i16,
        /// services, activities, mediation, incidents, health, profile, groups, organisations
        #[arg(long, value_parser = parse_kind)]
        kind: RecordKind,
        /// xlsx or csv
        #[arg(long, value_parser = parse_format)]
        format: ExportFormat,
        /// Write to this file instead of the standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Every kind of record of every unit for a year, as xlsx and CSV in the import formats
    All {
        #[arg(long, value_parser = parse_year)]
        year: i16,
        /// A new or empty directory
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum RecordsCommand {
    /// Lock a community's records of a year (as a submitted self-assessment does)
    Lock {
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = parse_year)]
        year: i16,
    },
    /// Unlock them again (as an evaluation returned to the community does)
    Unlock {
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = parse_year)]
        year: i16,
    },
}

fn parse_paper_counts(text: &str) -> Result<shequ_app::PaperCounts, String> {
    let numbers: Vec<i64> = text
        .split([',', '，'])
        .map(|n| n.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("票数“{text}”应为三个整数，如 120,30,5"))?;
    match numbers[..] {
        [very, fairly, not] if very >= 0 && fairly >= 0 && not >= 0 => {
            Ok(shequ_app::PaperCounts { very, fairly, not })
        }
        _ => Err(format!(
            "票数“{text}”应为三个非负整数：满意,基本满意,不满意"
        )),
    }
}

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use shequ_app::{
    App, Bundled, Caller, DivisionSource, ExportRequest, ImportOptions, InitOutcome, SaveOutcome,
    SourceFile,
};
use shequ_web::AppState;

use crate::config::{
    AdminCommand, Cli, Command, ExportCommand, ImportCommand, RecordsCommand, SurveyCommand,
};
use crate::settings::{Database, Settings};

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let database = &settings.database;
    match cli.command {
        Command::Serve { .. } => serve(&settings).await,
        Command::Backup { out } => {
            let app = open_existing(database).await?;
            let kind = app
                .backup(&Caller::operator(), &database.url(), &out)
                .await?;
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "已备份到 {}（{}，{size} 字节；证据文件在数据库中，一并备份）",
                out.display(),
                match kind {
                    shequ_app::BackupKind::Sqlite => "SQLite 数据库文件",
                    shequ_app::BackupKind::PgDump => "pg_dump 归档",
                }
            );
            Ok(())
        }
        Command::Restore { file, force } => {
            let outcome =
                shequ_app::restore(&file, &database.url(), &database.data_dir, force).await?;
            if let Some(previous) = &outcome.kept_previous {
                eprintln!("原数据库已改名保留为 {}", previous.display());
            }
            print_check(&outcome.check);
            eprintln!("已从 {} 恢复", file.display());
            if outcome.check.is_consistent() {
                Ok(())
            } else {
                bail!("恢复的数据库未通过检查；可运行 shequ check --repair")
            }
        }
        Command::Check { repair } => {
            let app = open_existing(database).await?;
            let bar = delayed_bar(spinner("正在核对汇总计数"));
            let (before, after) = app.check(&Caller::operator(), repair).await?;
            bar.finish_and_clear();
            print_check(&before);
            match after {
                Some(after) => {
                    eprintln!("已修复：重建汇总计数后再次检查：");
                    print_check(&after);
                    if after.is_consistent() {
                        Ok(())
                    } else {
                        bail!("修复后仍有不一致")
                    }
                }
                None if before.is_consistent() => Ok(()),
                None if repair || before.fact_mismatches.is_empty() => {
                    bail!("测评计数与选票不一致，不能自动修复，需人工核查")
                }
                None => bail!("数据不一致；可运行 shequ check --repair 重建汇总计数"),
            }
        }
        Command::Gen {
            seed,
            year,
            divisions,
            scale,
            out,
        } => generate(seed, year, &divisions, scale, &out),
        Command::DefaultConfig => {
            print!("{}", crate::settings::EXAMPLE);
            Ok(())
        }
        Command::CheckConfig { file } => {
            // The file alone, without the flags or the environment of this command.
            let resolved = Settings::resolve(&Cli {
                database: crate::config::DatabaseOptions {
                    data_dir: None,
                    database_url: None,
                },
                public_url: None,
                config: Some(file.clone()),
                log_format: None,
                command: Command::Serve {
                    listen: None,
                    trusted_proxies: Vec::new(),
                    request_timeout: None,
                    backup_every: None,
                    backup_keep: None,
                    backup_dir: None,
                    demo: false,
                },
            })?;
            println!("配置文件 {} 有效：", file.display());
            println!("  数据目录：{}", resolved.database.data_dir.display());
            println!(
                "  数据库：{}",
                if resolved.database.database_url.is_some() {
                    "PostgreSQL"
                } else {
                    "SQLite（数据目录中）"
                }
            );
            println!("  监听：{}", resolved.listen);
            println!("  请求超时：{:?}", resolved.request_timeout);
            match &resolved.backup {
                Some(b) => println!(
                    "  定时备份：每 {:?}，保留 {} 份，目录 {}",
                    b.every,
                    b.keep,
                    b.dir.display()
                ),
                None => println!("  定时备份：未启用"),
            }
            Ok(())
        }
        Command::Export(ExportCommand::All { year, out }) => {
            let app = open_initialised(database).await?;
            export_all(&app, year, &out).await
        }
        Command::Import(import) => {
            let app = open_initialised(database).await?;
            match import {
                ImportCommand::Divisions {
                    path,
                    as_of,
                    allow_mass_close,
                } => {
                    let options = ImportOptions {
                        as_of: as_of.unwrap_or_else(shequ_app::today),
                        allow_mass_close,
                    };
                    import_divisions(&app, &path, options).await
                }
                ImportCommand::Groups { file } => import_groups(&app, &file).await,
                ImportCommand::Standard { file } => import_standard(&app, &file).await,
                ImportCommand::Records { file, json } => import_records(&app, &file, json).await,
            }
        }
        Command::Export(ExportCommand::Records {
            unit,
            year,
            kind,
            format,
            out,
        }) => {
            let app = open_initialised(database).await?;
            let request = ExportRequest {
                unit,
                year,
                kind,
                format,
            };
            export_records(&app, &request, out.as_deref()).await
        }
        Command::Survey(command) => {
            let app = open_initialised(database).await?;
            survey(&app, command, settings.public_url.as_deref()).await
        }
        Command::Evaluate { unit, year, json } => {
            let app = open_initialised(database).await?;
            evaluate(&app, &unit, year, json).await
        }
        Command::Report {
            unit,
            period,
            basis,
            json,
            bulletin,
        } => {
            let app = open_initialised(database).await?;
            report(&app, &unit, &period, &basis, json, bulletin.as_deref()).await
        }
        Command::Review {
            action,
            unit,
            year,
            reason,
        } => {
            let app = open_initialised(database).await?;
            let state = app
                .review_action(&Caller::operator(), &unit, year, action, &reason)
                .await?;
            println!(
                "{unit} 的 {year} 年考评已{}，当前状态：{}（{}）",
                action.label_zh(),
                state.label_zh(),
                state.as_str()
            );
            Ok(())
        }
        Command::Records(command) => {
            let app = open_initialised(database).await?;
            let (unit, year, locked) = match command {
                RecordsCommand::Lock { unit, year } => (unit, year, true),
                RecordsCommand::Unlock { unit, year } => (unit, year, false),
            };
            app.set_records_locked(&Caller::operator(), &unit, year, locked)
                .await?;
            println!(
                "{unit} 的 {year} 年台账已{}",
                if locked { "锁定" } else { "解除锁定" }
            );
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser {
            username,
            role,
            unit,
            name,
            password_stdin: _,
        }) => {
            let app = open_initialised(database).await?;
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("无法从标准输入读取密码")?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            let request = shequ_app::UserRequest {
                display_name: name.unwrap_or_else(|| username.clone()),
                username,
                role,
                unit,
                password,
                must_change_password: false,
            };
            let user = app.create_user(&Caller::operator(), request).await?;
            println!(
                "已创建用户 {}（{}），角色 {}，所属单位 {}",
                user.username,
                user.display_name,
                user.role.label_zh(),
                user.scope
            );
            Ok(())
        }
        Command::Admin(AdminCommand::ImportUsers { file, out }) => {
            let app = open_initialised(database).await?;
            // Claim the output file first: users created with nowhere to put their first
            // passwords would be locked out.
            let mut out_file = match &out {
                Some(path) => Some(create_private(path)?),
                None => None,
            };
            let created = app
                .import_users(&Caller::operator(), &read_source(&file)?)
                .await;
            let created = match created {
                Ok(created) => created,
                Err(e) => {
                    if let Some(path) = &out {
                        drop(out_file.take());
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(e.into());
                }
            };
            let mut sheet = String::from("username,password\n");
            for (username, password) in &created {
                sheet.push_str(&format!("{username},{password}\n"));
            }
            match (out, out_file) {
                (Some(path), Some(mut file)) => {
                    use std::io::Write;
                    file.write_all(sheet.as_bytes())
                        .with_context(|| format!("无法写入 {}", path.display()))?;
                    println!(
                        "已创建 {} 个用户；首次密码已写入 {}",
                        created.len(),
                        path.display()
                    );
                }
                _ => {
                    print!("{sheet}");
                    eprintln!(
                        "已创建 {} 个用户；请将首次密码分发给本人，首次登录须修改",
                        created.len()
                    );
                }
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{}", shequ_web::openapi_json());
            Ok(())
        }
    }
}

async fn open(options: &Database) -> anyhow::Result<App> {
    if options.database_url.is_none() {
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("无法创建数据目录 {}", options.data_dir.display()))?;
    }
    App::open(&options.url()).await.context("无法打开数据库")
}

/// Opens a database that must already exist: a backup or a check of a mistyped data directory
/// must not quietly work on a new empty one.
async fn open_existing(options: &Database) -> anyhow::Result<App> {
    if options.database_url.is_none() {
        let file = options.data_dir.join(shequ_app::SQLITE_FILE);
        if !file.is_file() {
            bail!(
                "数据目录 {} 中没有数据库（{}）；请检查 --data-dir / SHEQU_DATA_DIR",
                options.data_dir.display(),
                shequ_app::SQLITE_FILE
            );
        }
    }
    open(options).await
}

/// Opens the database and, when it is empty, loads the bundled data first.
async fn open_initialised(options: &Database) -> anyhow::Result<App> {
    let app = open(options).await?;
    initialise(&app).await?;
    Ok(app)
}

async fn initialise(app: &App) -> anyhow::Result<()> {
    let spinner = spinner("首次启动：载入 2010 年标准与黑龙江省区划代码……");
    let outcome = app
        .initialise_if_empty(&Bundled::HEILONGJIANG, &Caller::operator())
        .await;
    spinner.finish_and_clear();
    match outcome? {
        InitOutcome::AlreadyInitialised => {}
        InitOutcome::Initialised { units, groups } => {
            eprintln!("已初始化：{units} 个单位，{groups} 条系统分组成员");
        }
    }
    Ok(())
}

fn spinner(message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{listen}"));
    // One server per data directory; a restore waits for it to stop.
    let _lock = match settings.database.database_url {
        None => Some(shequ_app::DataDirLock::try_acquire(
            &settings.database.data_dir,
        )?),
        Some(_) => None,
    };
    // A PostgreSQL server names itself, so that a restore can see it is running.
    let database = Database {
        database_url: settings
            .database
            .database_url
            .as_deref()
            .map(shequ_store::server_url),
        data_dir: settings.database.data_dir.clone(),
    };
    let app = Arc::new(open(&database).await?);
    if settings.demo {
        prepare_demo(&app, &settings.database.data_dir).await?;
    }
    let state = AppState::new(app.clone())
        .with_demo(settings.demo)
        .with_trusted_proxies(settings.trusted_proxies.clone())
        .with_public_url(&public_url)
        .with_request_timeout(settings.request_timeout);
    if let Some(schedule) = &settings.backup {
        std::fs::create_dir_all(&schedule.dir)
            .with_context(|| format!("无法创建备份目录 {}", schedule.dir.display()))?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("无法监听 {listen}"))?;
    let address = listener.local_addr()?;
    let format = settings.log_format;
    notice(
        format,
        &format!(
            "shequ 已启动：http://{address}/  （数据库：{}）",
            app.backend().as_str()
        ),
    );
    // Listen at once so /healthz can say 503 while the first-start data loads.
    let init_state = state.clone();
    let init = tokio::spawn(async move {
        match init_state
            .app
            .initialise_if_empty(&Bundled::HEILONGJIANG, &Caller::operator())
            .await
        {
            Ok(outcome) => {
                if let InitOutcome::Initialised { units, groups } = outcome {
                    tracing::info!(units, groups, "first-start data loaded");
                }
                init_state.set_ready();
                // With no users yet, a one-time link creates the first province admin.
                match init_state.app.prepare_setup().await {
                    Ok(Some(token)) => notice(
                        format,
                        &format!(
                            "尚无用户：请在浏览器打开 http://{address}/setup/{token} 创建第一个省级管理员（链接仅可使用一次；也可用 shequ admin create-user）"
                        ),
                    ),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "setup link not prepared"),
                }
                if let Err(e) = init_state.app.warm_up().await {
                    tracing::warn!(error = %e, "search index not built ahead");
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    });
    if let Some(schedule) = settings.backup.clone() {
        tokio::spawn(scheduled_backups(
            app.clone(),
            settings.database.url(),
            schedule,
        ));
    }
    let server = tokio::spawn(shequ_web::serve(listener, state, shutdown_signal()));
    match init.await? {
        Ok(()) => {}
        Err(e) => bail!("初始化失败：{e}"),
    }
    server.await??;
    notice(format, "shequ 已停止");
    Ok(())
}

/// A notice for the operator: a plain sentence, or a log line when logs are JSON, so that
/// every line of a JSON log parses.
fn notice(format: crate::settings::LogFormat, text: &str) {
    match format {
        crate::settings::LogFormat::Text => eprintln!("{text}"),
        crate::settings::LogFormat::Json => tracing::info!(notice = true, "{text}"),
    }
}

/// Loads the demo year into a new demo directory, or reuses one loaded before; refuses a
/// directory holding a real database.
async fn prepare_demo(app: &App, data_dir: &Path) -> anyhow::Result<()> {
    initialise(app).await?;
    if app.is_demo().await? {
        eprintln!("演示数据（{}）已载入，直接启动", data_dir.display());
    } else {
        let bar = spinner("正在生成并载入演示数据（道里区、南岗区本年至今的记录）……");
        let work = tempfile::tempdir().context("无法创建临时目录")?;
        let summary = app.load_demo(work.path()).await;
        bar.finish_and_clear();
        let summary = summary.context("演示数据未能载入")?;
        eprintln!(
            "已载入演示数据：{} 个社区，{} 条记录（数据目录 {}）",
            summary.communities,
            summary.records,
            data_dir.display()
        );
    }
    eprintln!(
        "演示账号（密码均为 {}）：demo_province（省级管理员）、demo_county（道里区民政工作人员）、demo_worker（省报社社区工作者）",
        shequ_app::DEMO_PASSWORD
    );
    Ok(())
}

/// Takes a backup every `schedule.every` and keeps the newest `schedule.keep`. A failed backup
/// is logged and tried again at the next turn; it never stops the server.
async fn scheduled_backups(
    app: Arc<App>,
    database_url: String,
    schedule: crate::settings::BackupSchedule,
) {
    let mut ticks = tokio::time::interval(schedule.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the first backup comes one interval after start.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let kind = App::backup_kind_for(&database_url);
        let path = schedule.dir.join(shequ_app::scheduled_backup_name(kind));
        match app.backup(&Caller::operator(), &database_url, &path).await {
            Ok(_) => {
                tracing::info!(path = %path.display(), "scheduled backup written");
                match shequ_app::prune_backups(&schedule.dir, schedule.keep) {
                    Ok(removed) => {
                        for old in removed {
                            tracing::info!(path = %old.display(), "old backup removed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "old backups not pruned"),
                }
            }
            Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
        }
    }
}

fn print_check(report: &shequ_app::ConsistencyReport) {
    println!(
        "已核对 {} 条记录、{} 个汇总计数：{}",
        report.records_read,
        report.fact_rows,
        if report.is_consistent() {
            "一致"
        } else {
            "发现不一致"
        }
    );
    for line in &report.integrity {
        println!("数据库完整性：{line}");
    }
    const SHOWN: usize = 20;
    for m in report.fact_mismatches.iter().take(SHOWN) {
        println!(
            "汇总计数不一致：{} {} 年 {}：存储 {}，按记录应为 {}",
            m.unit, m.year, m.fact, m.stored, m.recomputed
        );
    }
    if report.fact_mismatches.len() > SHOWN {
        println!(
            "……另有 {} 处汇总计数不一致",
            report.fact_mismatches.len() - SHOWN
        );
    }
    for m in &report.survey_mismatches {
        println!(
            "测评计数不一致：{} {} 年 {}：记录的网上票数 {}，实有选票 {}（需人工核查）",
            m.unit, m.year, m.kind, m.stored_ballots, m.ballots
        );
    }
}

/// Refuses a directory that already holds something.
fn ensure_empty_dir(out: &Path) -> anyhow::Result<()> {
    if out.exists()
        && std::fs::read_dir(out)
            .with_context(|| format!("无法读取 {}", out.display()))?
            .next()
            .is_some()
    {
        bail!("{} 不为空；请指定新的或空的目录", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("无法创建 {}", out.display()))
}

fn generate(seed: u64, year: i16, divisions: &Path, scale: f64, out: &Path) -> anyhow::Result<()> {
    let file = if divisions.is_dir() {
        ["villages.csv", "villages.csv.gz"]
            .iter()
            .map(|n| divisions.join(n))
            .find(|p| p.exists())
            .with_context(|| {
                format!(
                    "{} 中没有 villages.csv 或 villages.csv.gz",
                    divisions.display()
                )
            })?
    } else {
        divisions.to_path_buf()
    };
    let bytes = std::fs::read(&file).with_context(|| format!("无法读取 {}", file.display()))?;
    let source = shequ_app::SourceFile {
        name: file.display().to_string(),
        bytes,
    };
    let communities =
        shequ_interchange::generate::communities_in(&source).map_err(anyhow::Error::msg)?;
    if communities.is_empty() {
        bail!("{} 中没有社区（居委会等）", file.display());
    }
    ensure_empty_dir(out)?;
    let bar = delayed_bar(ProgressBar::new(communities.len() as u64));
    bar.set_style(
        ProgressStyle::with_template("生成 {bar:30} {pos}/{len} 个社区 {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let files = shequ_interchange::generate::generate(
        &communities,
        shequ_interchange::generate::GenOptions {
            seed,
            year,
            scale,
            until: None,
        },
        out,
        |n| bar.set_position(n as u64),
    )
    .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    for f in &files {
        println!("{}\t{}\t{} 行", f.path.display(), f.kind.label_zh(), f.rows);
    }
    eprintln!(
        "已为 {} 个社区生成 {year} 年记录（种子 {seed}，规模 {scale}）；按文件名顺序用 shequ import records 导入，纸质计票须再经第二人确认",
        communities.len()
    );
    Ok(())
}

/// Every kind of record of the whole tree for a year, as xlsx and CSV in the import formats,
/// into a new or empty directory.
async fn export_all(app: &App, year: i16, out: &Path) -> anyhow::Result<()> {
    ensure_empty_dir(out)?;
    let caller = Caller::operator();
    let roots = app.roots().await?;
    let kinds = shequ_app::domain::records::RecordKind::ALL;
    let bar = delayed_bar(ProgressBar::new((roots.len() * kinds.len() * 2) as u64));
    bar.set_style(
        ProgressStyle::with_template("导出 {bar:30} {pos}/{len} 个文件 {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut written = 0;
    for root in &roots {
        for kind in kinds {
            for format in [shequ_app::ExportFormat::Xlsx, shequ_app::ExportFormat::Csv] {
                let request = ExportRequest {
                    unit: root.code.as_str().to_string(),
                    year,
                    kind,
                    format,
                };
                let name = format!(
                    "{}-{year}-{}.{}",
                    root.code,
                    kind.as_str(),
                    match format {
                        shequ_app::ExportFormat::Xlsx => "xlsx",
                        shequ_app::ExportFormat::Csv => "csv",
                    }
                );
                let path = out.join(name);
                let temp = tempfile::NamedTempFile::new_in(out)
                    .with_context(|| format!("无法在 {} 中写入", out.display()))?;
                let writer = std::io::BufWriter::new(temp);
                let writer = app
                    .export_records(&caller, &request, writer, |_| {})
                    .await?;
                let temp = writer
                    .into_inner()
                    .map_err(|e| anyhow::anyhow!("写入失败：{}", e.error()))?;
                temp.persist(&path)
                    .with_context(|| format!("无法写入 {}", path.display()))?;
                written += 1;
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    eprintln!(
        "已导出 {year} 年全部记录：{written} 个文件（每类 xlsx 与 CSV 各一），在 {}；可用 shequ import records 导回",
        out.display()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Creates a new file only its owner can read (it will hold passwords).
fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("无法新建 {}（文件已存在或目录不可写）", path.display()))
}

fn read_source(path: &Path) -> anyhow::Result<SourceFile> {
    let bytes = std::fs::read(path).with_context(|| format!("无法读取 {}", path.display()))?;
    Ok(SourceFile {
        name: path.display().to_string(),
        bytes,
    })
}

/// Finds `STEM.csv` or `STEM.csv.gz` in a folder of the national layout.
fn national_file(folder: &Path, stem: &str) -> anyhow::Result<SourceFile> {
    let plain = folder.join(format!("{stem}.csv"));
    let gzipped = folder.join(format!("{stem}.csv.gz"));
    match (plain.is_file(), gzipped.is_file()) {
        (true, true) => bail!(
            "{} 中同时有 {stem}.csv 和 {stem}.csv.gz，无法确定导入哪一个；请只保留一个",
            folder.display()
        ),
        (true, false) => return read_source(&plain),
        (false, true) => return read_source(&gzipped),
        (false, false) => {}
    }
    bail!(
        "{} 中缺少 {stem}.csv（或 {stem}.csv.gz）；五文件格式需要 provinces、cities、areas、streets、villages",
        folder.display()
    )
}

async fn import_divisions(app: &App, path: &Path, options: ImportOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let source = if path.is_dir() {
        let [provinces, cities, areas, streets, villages] =
            ["provinces", "cities", "areas", "streets", "villages"];
        DivisionSource::National(shequ_app::national_files(
            national_file(path, provinces)?,
            national_file(path, cities)?,
            national_file(path, areas)?,
            national_file(path, streets)?,
            national_file(path, villages)?,
        ))
    } else {
        DivisionSource::OneFile(read_source(path)?)
    };
    let bar = spinner("核对并导入区划代码（全部通过才写入）……");
    let result = app
        .import_divisions(source, options, &Caller::operator())
        .await;
    bar.finish_and_clear();
    let summary = result?;
    println!(
        "导入完成（生效日期 {}，用时 {:.1} 秒）：新增 {}，更名 {}，调整上级 {}，恢复 {}，撤销 {}，未变 {}",
        options.as_of,
        started.elapsed().as_secs_f64(),
        summary.inserted,
        summary.renamed,
        summary.moved,
        summary.reopened,
        summary.closed,
        summary.unchanged
    );
    Ok(())
}

async fn import_groups(app: &App, file: &Path) -> anyhow::Result<()> {
    let summary = app
        .import_groups(&read_source(file)?, &Caller::operator())
        .await?;
    println!(
        "分组导入完成：{} 个分组集，{} 个分组，{} 条成员（这些分组集原有 {} 条成员，已整体替换）",
        summary.group_sets, summary.groups, summary.memberships, summary.previous
    );
    Ok(())
}

async fn import_standard(app: &App, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("无法读取 {}（应为 UTF-8 编码的 TOML 文件）", file.display()))?;
    match app.add_standard(&text, &Caller::operator()).await? {
        SaveOutcome::Added => println!("已载入新标准版本，并设为当前版本"),
        SaveOutcome::AlreadyPresent => println!("该标准版本已存在，内容相同，未作改动"),
    }
    Ok(())
}

/// A bar that stays out of sight for work that finishes within a second.
fn delayed_bar(bar: ProgressBar) -> ProgressBar {
    bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    let shown = bar.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !shown.is_finished() {
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    });
    bar
}

async fn import_records(app: &App, file: &Path, json: bool) -> anyhow::Result<()> {
    let source = read_source(file)?;
    let bar = delayed_bar(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message("核对并导入台账（全部通过才写入）……");
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = app.import_records(&Caller::operator(), &source).await;
    bar.finish_and_clear();
    let report = result?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.errors.is_empty() {
        println!(
            "导入完成：新增 {} 条，未变 {} 条，修改 {} 条",
            report.new, report.unchanged, report.changed
        );
    } else {
        for e in &report.errors {
            let mut line = format!("第 {} 行", e.row);
            if !e.column.is_empty() {
                line.push_str(&format!("（{}", e.column));
                if !e.value.is_empty() {
                    line.push_str(&format!("：“{}”", e.value));
                }
                line.push('）');
            }
            eprintln!("{line}：{}", e.reason);
        }
    }
    if !report.errors.is_empty() {
        bail!(
            "{} 有 {} 处错误，未导入任何数据",
            file.display(),
            report.errors.len()
        );
    }
    Ok(())
}

async fn export_records(
    app: &App,
    request: &ExportRequest,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let caller = Caller::operator();
    let total = app.count_for_export(&caller, request).await?;
    let bar = delayed_bar(ProgressBar::new(u64::try_from(total).unwrap_or(0)));
    bar.set_style(
        ProgressStyle::with_template("导出 {bar:30} {pos}/{len} 条 {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |n: usize| bar.set_position(n as u64);
    match out {
        Some(path) => {
            // Written beside the target and renamed at the end: a failed export leaves no
            // half-written file behind.
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let temp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("无法在 {} 中写入", dir.display()))?;
            let writer = std::io::BufWriter::new(temp);
            let writer = app
                .export_records(&caller, request, writer, progress)
                .await?;
            let temp = writer
                .into_inner()
                .map_err(|e| anyhow::anyhow!("写入失败：{}", e.error()))?;
            temp.persist(path)
                .with_context(|| format!("无法写入 {}", path.display()))?;
            bar.finish_and_clear();
            eprintln!("已导出 {total} 条到 {}", path.display());
        }
        None => {
            let writer = std::io::BufWriter::new(std::io::stdout());
            let mut writer = app
                .export_records(&caller, request, writer, progress)
                .await?;
            use std::io::Write;
            writer.flush().context("写入标准输出失败")?;
            bar.finish_and_clear();
        }
    }
    Ok(())
}

/// Without a public address the voting links point at the default local server.
const LOCAL_URL: &str = "http://127.0.0.1:8080";

async fn evaluate(app: &App, unit: &str, year: i16, json: bool) -> anyhow::Result<()> {
    let bar = delayed_bar(spinner("正在考评"));
    let (scope, results) = app.evaluate(&Caller::operator(), unit, year).await?;
    bar.finish_and_clear();
    if json {
        let reports: Vec<shequ_app::EvaluationReport> =
            results.iter().map(|r| r.report()).collect();
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    if let [one] = &results[..] {
        let e = &one.evaluation;
        println!(
            "{} {}（{}）{year} 年考评：得分 {}/{}，审核状态：{}，{}",
            one.unit.code,
            one.unit.name,
            scope.name,
            e.score,
            e.max_score,
            one.review_state.label_zh(),
            if one.award() {
                "特色型社区".to_string()
            } else {
                e.award_reason.clone()
            }
        );
        for r in &e.indicators {
            println!("{:>2}\t{}\t{}", r.number, r.status.label_zh(), r.detail);
        }
        return Ok(());
    }
    println!("名次\t区划代码\t社区\t得分\t达标指标\t审核状态\t特色型社区");
    for row in shequ_app::rank(&results) {
        println!(
            "{}\t{}\t{}\t{}/{}\t{}/{}\t{}\t{}",
            row.rank,
            row.unit,
            row.name,
            row.score,
            row.max_score,
            row.met,
            row.indicators,
            shequ_app::domain::evaluation::ReviewState::parse(row.review_state)
                .map_or(row.review_state, |s| s.label_zh()),
            if row.award { "是" } else { "" }
        );
    }
    eprintln!("{} 下共 {} 个社区", scope.name, results.len());
    Ok(())
}

async fn report(
    app: &App,
    unit: &str,
    period: &str,
    basis: &str,
    json: bool,
    bulletin: Option<&Path>,
) -> anyhow::Result<()> {
    let caller = Caller::operator();
    let basis = shequ_app::Basis::parse(basis)?;
    let bar = delayed_bar(spinner("正在汇总"));
    // The bulletin is the live report, so one computation serves both.
    let view = match (bulletin, basis) {
        (Some(path), shequ_app::Basis::Live) => {
            let b = app.bulletin(&caller, unit, period).await?;
            write_whole(path, &b.xlsx()?)?;
            b.view
        }
        (Some(path), _) => {
            write_whole(path, &app.bulletin(&caller, unit, period).await?.xlsx()?)?;
            app.progress_report(&caller, unit, period, basis).await?
        }
        (None, _) => app.progress_report(&caller, unit, period, basis).await?,
    };
    bar.finish_and_clear();
    let report = view.report();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("单位\t社区\t服务记录\t服务人次\t项目覆盖\t活动\t应报\t按时\t逾期\t未报\t报送率");
        let line = |r: &shequ_app::Rollup| {
            println!(
                "{} {}\t{}\t{}\t{}\t{}/{}\t{}\t{}\t{}\t{}\t{}\t{}",
                r.unit.code,
                r.unit.name,
                r.communities,
                r.figures.services.records,
                r.figures.services.people_served,
                r.figures.services.items_covered,
                r.figures.services.items_possible,
                r.figures.activities.total,
                r.completeness.expected,
                r.completeness.on_time,
                r.completeness.late,
                r.completeness.missing,
                r.completeness.rate_display()
            );
        };
        line(&view.total);
        for child in &view.children {
            line(child);
        }
    }
    if let Some(path) = bulletin {
        eprintln!("通报已写入 {}", path.display());
    }
    Ok(())
}

/// Writes a file beside its target and renames it at the end, so a failure leaves no
/// half-written file.
fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("无法在 {} 中写入", dir.display()))?;
    std::io::Write::write_all(&mut temp, bytes).context("写入失败")?;
    temp.persist(path)
        .with_context(|| format!("无法写入 {}", path.display()))?;
    Ok(())
}

async fn survey(app: &App, command: SurveyCommand, public_url: Option<&str>) -> anyhow::Result<()> {
    let caller = Caller::operator();
    match command {
        SurveyCommand::Open { target, from, to } => {
            app.open_survey(&caller, &target.unit, target.year, target.kind, from, to)
                .await?;
            println!(
                "已开启 {} 的 {} 年{}",
                target.unit,
                target.year,
                target.kind.label_zh()
            );
        }
        SurveyCommand::Codes {
            target,
            count,
            sheet,
        } => {
            // Claim the sheet file first: codes issued with nowhere to print them are lost.
            let sheet_file = match &sheet {
                Some(path) => Some(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)
                        .with_context(|| {
                            format!("无法新建 {}（文件已存在或目录不可写）", path.display())
                        })?,
                ),
                None => None,
            };
            let codes = app
                .issue_codes(&caller, &target.unit, target.year, target.kind, count)
                .await;
            let codes = match codes {
                Ok(codes) => codes,
                Err(e) => {
                    if let Some(path) = &sheet {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(e.into());
                }
            };
            for code in &codes {
                println!("{code}");
            }
            if let (Some(path), Some(mut file)) = (sheet, sheet_file) {
                let base = public_url.unwrap_or_else(|| {
                    eprintln!(
                        "提示：未设置 --public-url（SHEQU_PUBLIC_URL），二维码指向 {LOCAL_URL}"
                    );
                    LOCAL_URL
                });
                let html = app
                    .ballot_sheet(&target.unit, target.year, target.kind, &codes, base)
                    .await?;
                use std::io::Write;
                file.write_all(html.as_bytes())
                    .with_context(|| format!("无法写入 {}", path.display()))?;
                eprintln!(
                    "已发放 {} 个测评码；打印页已写入 {}",
                    codes.len(),
                    path.display()
                );
            }
        }
        SurveyCommand::Void { target, codes } => {
            let voided = app
                .void_codes(&caller, &target.unit, target.year, target.kind, &codes)
                .await?;
            println!("已作废 {voided} 个未使用的测评码");
        }
        SurveyCommand::Close { target } => {
            app.close_survey(&caller, &target.unit, target.year, target.kind)
                .await?;
            println!("已结束{}，结果为最终结果", target.kind.label_zh());
        }
        SurveyCommand::Confirm { target, counts } => {
            let tally = app
                .confirm_tally(&caller, &target.unit, target.year, target.kind, counts)
                .await?;
            println!(
                "已确认纸质计票：{} 票，其中满意 {} 票",
                tally.ballots, tally.satisfied
            );
        }
        SurveyCommand::Results { unit, year } => {
            println!("测评类型\t有效票\t满意\t满意率\t标准\t达标");
            for r in app.survey_results(&caller, &unit, year).await? {
                let rate = r
                    .tally
                    .rate_hundredths()
                    .map_or("不适用".to_string(), shequ_app::percent);
                let met = match r.met {
                    Some(true) => "是",
                    Some(false) => "否",
                    None => "不适用",
                };
                println!(
                    "{}\t{}\t{}\t{rate}\t{}%\t{met}",
                    r.kind.label_zh(),
                    r.tally.ballots,
                    r.tally.satisfied,
                    r.threshold_percent
                );
            }
        }
    }
    Ok(())
}

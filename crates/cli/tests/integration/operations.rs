//! Operations with the real binary: a backup taken under a write load restores to a database
//! that passes `shequ check`; SIGKILL in the middle of a large import and of a burst of HTTP
//! writes loses no acknowledged write and leaves no half import; an old schema with data is
//! upgraded; configuration, limits and graceful shutdown. On SQLite and PostgreSQL alike.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shequ_store::testing::TestDatabase;

const COMMUNITIES: [&str; 4] = [
    "230102001001",
    "230102001002",
    "230102001003",
    "230102001004",
];

fn is_postgres(db: &TestDatabase) -> bool {
    db.url.starts_with("postgres")
}

/// The binary on this test's database.
fn shequ(db: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shequ"));
    command
        .env("SHEQU_DATA_DIR", &db.data_dir)
        .env_remove("SHEQU_CONFIG")
        .env("SHEQU_LOG", "info,sqlx=warn");
    if is_postgres(db) {
        command.env("SHEQU_DATABASE_URL", &db.url);
    } else {
        command.env_remove("SHEQU_DATABASE_URL");
    }
    command
}

fn run(db: &TestDatabase, args: &[&str]) -> Output {
    shequ(db).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Service rows; `people_base` keeps files apart (a row's content is its identity).
fn services_csv(rows: usize, people_base: usize) -> String {
    let mut out = String::from("区划代码,日期,服务项目编号,服务人次\n");
    for n in 0..rows {
        out.push_str(&format!(
            "{},2010-{:02}-{:02},{},{}\n",
            COMMUNITIES[n % 4],
            n % 12 + 1,
            n % 28 + 1,
            n % 100 + 1,
            people_base + n % 9 + 1
        ));
    }
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `shequ serve` on a port, waited for until /healthz answers 200.
async fn start_server(db: &TestDatabase, port: u16, extra: &[&str]) -> Child {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", listen.as_str()];
    args.extend_from_slice(extra);
    let log = std::fs::File::create(db.data_dir.join(format!("serve-{port}.log"))).unwrap();
    let mut child = shequ(db)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("http://{listen}/healthz")).send().await
            && r.status() == 200
        {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "server exited with {status}: {}",
                std::fs::read_to_string(db.data_dir.join(format!("serve-{port}.log")))
                    .unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn create_admin(db: &TestDatabase) {
    let mut child = shequ(db)
        .args([
            "admin",
            "create-user",
            "--username",
            "admin",
            "--role",
            "province_admin",
            "--unit",
            "23",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(crate::helpers::PASSWORD.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
}

async fn sign_in(port: u16) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_string()
}

fn service(i: usize) -> Value {
    json!({"kind": "services", "fields": {
        "unit": COMMUNITIES[i % 4],
        "date": format!("2010-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
        "item": i % 100 + 1,
        "people": i % 9 + 1,
    }})
}

/// Writers posting records until told to stop; returns the ids the server acknowledged.
fn start_writers(
    port: u16,
    token: &str,
    writers: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<i64>>> {
    (0..writers)
        .map(|w| {
            let token = token.to_string();
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .unwrap();
                let mut acknowledged = Vec::new();
                let mut i = w * 100_000;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let response = client
                        .post(format!("http://127.0.0.1:{port}/api/v1/records"))
                        .bearer_auth(&token)
                        .json(&service(i))
                        .send()
                        .await;
                    i += 1;
                    match response {
                        Ok(r) if r.status() == 201 => {
                            let body: Value = match r.json().await {
                                Ok(b) => b,
                                Err(_) => break,
                            };
                            acknowledged.push(body["id"].as_i64().unwrap());
                        }
                        // The server is gone: what it acknowledged is what counts.
                        Ok(_) | Err(_) => break,
                    }
                }
                acknowledged
            })
        })
        .collect()
}

fn kill(child: &mut Child) {
    // SIGKILL: no chance to clean up, as a power cut.
    child.kill().unwrap();
    child.wait().unwrap();
}

fn assert_check_passes(db: &TestDatabase) {
    let output = run(db, &["check"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("一致"), "{}", text(&output));
}

async fn record_count(db: &TestDatabase) -> usize {
    let store = shequ_store::SqlStore::connect(&db.url).await.unwrap();
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM records")
        .fetch_one(store.pool())
        .await
        .unwrap_or((-1,));
    store.close().await;
    usize::try_from(row.0).unwrap()
}

async fn a_killed_import_leaves_nothing_half_done(db: TestDatabase) {
    // A first small import initialises the database and leaves 8 records.
    let small = db.data_dir.join("small.csv");
    std::fs::write(&small, services_csv(8, 100)).unwrap();
    let output = run(&db, &["import", "records", small.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(record_count(&db).await, 8);

    let big = db.data_dir.join("big.csv");
    std::fs::write(&big, services_csv(60_000, 0)).unwrap();
    let mut child = shequ(&db)
        .args(["import", "records", big.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill once the checked import has started writing its transaction.
    let stderr = child.stderr.take().unwrap();
    let (seen, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("writing it in one transaction") {
                let _ = seen.send(());
            }
        }
    });
    wait.recv_timeout(Duration::from_secs(120))
        .expect("the import never began writing");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished before it could be killed; make the file larger"
    );
    kill(&mut child);
    // Nothing of the killed import is visible; the first import is whole; the counts agree.
    assert_eq!(record_count(&db).await, 8);
    assert_check_passes(&db);
    // And the same file then imports in full.
    let output = run(&db, &["import", "records", big.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(record_count(&db).await, 60_008);
    assert_check_passes(&db);
}

#[tokio::test]
async fn a_killed_import_leaves_nothing_half_done_on_sqlite() {
    a_killed_import_leaves_nothing_half_done(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_killed_import_leaves_nothing_half_done_on_postgres() {
    let Some(db) = TestDatabase::postgres_database().await else {
        return;
    };
    a_killed_import_leaves_nothing_half_done(db).await;
}

async fn a_killed_server_keeps_every_acknowledged_write(db: TestDatabase) {
    let port = free_port();
    let mut server = start_server(&db, port, &[]).await;
    create_admin(&db);
    let token = sign_in(port).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = start_writers(port, &token, 8, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill(&mut server);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(
        acknowledged.len() > 10,
        "too few writes before the kill: {}",
        acknowledged.len()
    );
    // Restarted, every acknowledged record is there.
    let mut server = start_server(&db, port, &[]).await;
    let token = sign_in(port).await;
    let client = reqwest::Client::new();
    for id in &acknowledged {
        let response = client
            .get(format!("http://127.0.0.1:{port}/api/v1/records/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "acknowledged record {id} lost");
    }
    kill(&mut server);
    assert!(record_count(&db).await >= acknowledged.len());
    assert_check_passes(&db);
}

#[tokio::test]
async fn a_killed_server_keeps_every_acknowledged_write_on_sqlite() {
    a_killed_server_keeps_every_acknowledged_write(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_killed_server_keeps_every_acknowledged_write_on_postgres() {
    let Some(db) = TestDatabase::postgres_database().await else {
        return;
    };
    a_killed_server_keeps_every_acknowledged_write(db).await;
}

async fn a_backup_under_load_restores_and_checks(db: TestDatabase, target: TestDatabase) {
    let port = free_port();
    let mut server = start_server(&db, port, &[]).await;
    create_admin(&db);
    let token = sign_in(port).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = start_writers(port, &token, 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = record_count(&db).await;
    let backup = db.data_dir.join("backup.bin");
    let output = run(&db, &["backup", "--out", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let after = record_count(&db).await;
    kill(&mut server);
    assert!(after > before, "writes went on during the backup");
    // A second backup to the same file is refused; the first is untouched.
    let size = std::fs::metadata(&backup).unwrap().len();
    let output = run(&db, &["backup", "--out", backup.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output).contains("已存在"), "{}", text(&output));
    assert_eq!(std::fs::metadata(&backup).unwrap().len(), size);

    let output = run(&target, &["restore", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let restored = record_count(&target).await;
    assert!(
        (before..=after).contains(&restored),
        "a backup is one moment: {before} <= {restored} <= {after}"
    );
    assert_check_passes(&target);
    // Restoring again over the restored data is refused without --force.
    let output = run(&target, &["restore", backup.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output).contains("--force"), "{}", text(&output));
    let output = run(&target, &["restore", backup.to_str().unwrap(), "--force"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(record_count(&target).await, restored);
    // The restored database serves.
    let port = free_port();
    let mut server = start_server(&target, port, &[]).await;
    let token = sign_in(port).await;
    let response = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/records?unit=230102001001&kind=services&year=2010"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // While it serves, no restore replaces its database.
    let output = run(&target, &["restore", backup.to_str().unwrap(), "--force"]);
    assert!(!output.status.success());
    assert!(text(&output).contains("服务器"), "{}", text(&output));
    kill(&mut server);
}

#[tokio::test]
async fn a_backup_under_load_restores_and_checks_on_sqlite() {
    a_backup_under_load_restores_and_checks(TestDatabase::sqlite(), TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_backup_under_load_restores_and_checks_on_postgres() {
    let (Some(db), Some(target)) = (
        TestDatabase::postgres_database().await,
        TestDatabase::postgres_database().await,
    ) else {
        return;
    };
    a_backup_under_load_restores_and_checks(db, target).await;
}

#[tokio::test]
async fn bad_backups_are_refused_and_replace_nothing() {
    let db = TestDatabase::sqlite();
    let small = db.data_dir.join("small.csv");
    std::fs::write(&small, services_csv(8, 0)).unwrap();
    let output = run(&db, &["import", "records", small.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let backup = db.data_dir.join("good.db");
    assert!(
        run(&db, &["backup", "--out", backup.to_str().unwrap()])
            .status
            .success()
    );
    let target = TestDatabase::sqlite();
    std::fs::remove_dir_all(&target.data_dir).unwrap();
    for (name, bytes, wanted) in [
        (
            "garbage.db",
            b"not a database at all".to_vec(),
            "不是 shequ 的备份文件",
        ),
        (
            "truncated.db",
            std::fs::read(&backup).unwrap()[..5000].to_vec(),
            "不完整",
        ),
        ("empty.db", Vec::new(), "不是 shequ 的备份文件"),
        ("dump.pgdump", b"PGDMP\x01\x0e".to_vec(), "PostgreSQL 备份"),
    ] {
        let path = db.data_dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let output = run(&target, &["restore", path.to_str().unwrap()]);
        assert!(!output.status.success(), "{name}");
        assert!(text(&output).contains(wanted), "{name}: {}", text(&output));
        assert!(
            !target.data_dir.join("shequ.db").exists(),
            "{name} left a database behind"
        );
    }
    // A SQLite database that is not shequ's.
    let foreign = db.data_dir.join("foreign.db");
    let store = shequ_store::SqlStore::connect(&format!("sqlite://{}?mode=rwc", foreign.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let output = run(&target, &["restore", foreign.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("不是可用的 shequ 数据库"),
        "{}",
        text(&output)
    );
    assert!(!target.data_dir.join("shequ.db").exists());
}

#[tokio::test]
async fn the_first_released_schema_with_data_is_upgraded() {
    let db = TestDatabase::sqlite();
    let store = shequ_store::SqlStore::connect(&db.url).await.unwrap();
    // The database as the first release left it: its two migrations and its data.
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    for m in &shequ_store::MIGRATIONS[..2] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.sqlite))
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO schema_migrations VALUES ($1, $2, '2010-01-20T00:00:00Z')")
            .bind(m.version)
            .bind(m.name)
            .execute(store.pool())
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "INSERT INTO units (code, name, depth, kind, is_community, parent_code, province_code, source) VALUES \
           ('23', '黑龙江省', 1, 'province', 0, NULL, NULL, 'national'), \
           ('2301', '哈尔滨市', 2, 'prefecture', 0, '23', '23', 'national'); \
         INSERT INTO unit_counts VALUES ('23', 1, 0, 0, 0, 0), ('2301', 0, 0, 0, 0, 0); \
         INSERT INTO unit_name_history (code, old_name, new_name, changed_on, recorded_at) VALUES \
           ('2301', '哈尔滨', '哈尔滨市', '2010-01-01', '2010-01-20T00:00:00Z'); \
         INSERT INTO users (username, display_name, password_hash, role, scope_code, active, must_change_password, created_at) \
           VALUES ('old_admin', '老管理员', 'x', 'province_admin', '23', 1, 0, '2010-01-20T00:00:00Z'); \
         INSERT INTO app_state (key, value) VALUES ('initialised_at', '2010-01-20T00:00:00Z');",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;

    let app = shequ_app::App::open(&db.url).await.unwrap();
    let city = app.unit("2301").await.unwrap();
    assert_eq!(city.unit.name, "哈尔滨市");
    assert_eq!(city.path[0].name, "黑龙江省");
    let history = app
        .name_history(&shequ_app::domain::codes::DivisionCode::parse("2301").unwrap())
        .await
        .unwrap();
    assert_eq!(history[0].old_name, "哈尔滨");
    let users = app
        .list_users(&shequ_app::Caller::operator(), None)
        .await
        .unwrap();
    assert_eq!(users[0].username, "old_admin");
    drop(app);
    // Every later migration was applied, and the upgraded database checks.
    let store = shequ_store::SqlStore::connect(&db.url).await.unwrap();
    let (version,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(version, shequ_store::MIGRATIONS.last().unwrap().version);
    store.close().await;
    assert_check_passes(&db);
    // A database newer than this program is refused with a clear message, and left alone.
    let store = shequ_store::SqlStore::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations VALUES (999, 'from the future', '2030-01-01T00:00:00Z')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let output = run(&db, &["check"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("比本程序支持的"),
        "{}",
        text(&output)
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let output = run(&db, &["serve", "--listen", &listen]);
    assert!(!output.status.success());
    assert!(text(&output).contains("请升级 shequ"), "{}", text(&output));
}

#[tokio::test]
async fn configuration_files_are_checked_and_used() {
    let db = TestDatabase::sqlite();
    let output = run(&db, &["default-config"]);
    assert!(output.status.success());
    let example = String::from_utf8(output.stdout).unwrap();
    assert!(example.contains("# [backup]"));
    let good = db.data_dir.join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:0\"\nlog_format = \"json\"\n[backup]\nevery = \"24h\"\nkeep = 3\n",
    )
    .unwrap();
    let output = run(&db, &["check-config", good.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("保留 3 份"), "{}", text(&output));
    let bad = db.data_dir.join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:0\"\nbackup_every = \"24h\"\n").unwrap();
    let output = run(&db, &["check-config", bad.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("unknown field `backup_every`"),
        "{}",
        text(&output)
    );
    // serve refuses to start on a bad file, naming it.
    let output = run(&db, &["--config", bad.to_str().unwrap(), "serve"]);
    assert!(!output.status.success());
    assert!(text(&output).contains("bad.toml"), "{}", text(&output));

    // A served request's log lines are JSON and carry its request id.
    let port = free_port();
    let config = db.data_dir.join("serve.toml");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:{port}\"\nlog_format = \"json\"\n"),
    )
    .unwrap();
    let log_path = db.data_dir.join("json.log");
    let mut server = shequ(&db)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = client
        .get(format!("http://127.0.0.1:{port}/api/v1/units/23"))
        .header("x-request-id", "office-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "office-42");
    let generated = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert!(generated.headers().contains_key("x-request-id"));
    // An id that could forge log fields is replaced by a generated one.
    let forged = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .header("x-request-id", "x} INFO request{request_id=admin-1")
        .send()
        .await
        .unwrap();
    let id = forged.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!id.contains('{') && !id.contains(' '), "{id}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(&mut server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    // Every line is JSON, the operator's start notice included.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("shequ 已启动"))),
        "{log}"
    );
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "office-42")
        .collect();
    assert!(!ours.is_empty(), "{log}");
    // The access line of the request: its status, inside the request's span.
    assert!(ours.iter().any(|l| l["fields"]["status"] == 200), "{log}");
}

async fn request_limits_and_graceful_shutdown() {
    let db = TestDatabase::sqlite();
    let port = free_port();
    let mut server = start_server(&db, port, &[]).await;
    create_admin(&db);
    // Sessions live in the database, so this one outlasts the restart below.
    let token = sign_in(port).await;
    // Evidence uploads: over the 10 MB a file may have, refused with the reason; over the
    // upload limit, refused before it is read.
    let created: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/records"))
        .bearer_auth(&token)
        .json(&service(1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let mut big_png = b"\x89PNG\r\n\x1a\n".to_vec();
    big_png.resize(10 * 1024 * 1024 + 512 * 1024, 0);
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/records/{id}/files?filename=a.png"
        ))
        .bearer_auth(&token)
        .body(big_png)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("文件过大"));
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/api/v1/records/{id}/files?filename=a.png"
        ))
        .bearer_auth(&token)
        .body(vec![0u8; 12 * 1024 * 1024])
        .send()
        .await;
    // The server answers 413 and may close the connection before the client finishes sending.
    if let Ok(r) = response {
        assert_eq!(r.status(), 413);
    }
    kill(&mut server);
    let mut server = start_server(&db, port, &["--request-timeout", "20ms"]).await;
    let client = reqwest::Client::new();
    // Too large a body: 413 with the JSON error, before anything is read into memory.
    // (Its own client: the server closes that connection without reading the rest.)
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // A request longer than the timeout is answered 408.
    let response = client
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/units/23/evaluations/2010"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 408);
    kill(&mut server);

    // SIGTERM: the request in flight finishes, then the server stops and accepts no more.
    let mut server = start_server(&db, port, &[]).await;
    let token = sign_in(port).await;
    let slow = tokio::spawn({
        let token = token.clone();
        async move {
            reqwest::Client::new()
                .get(format!(
                    "http://127.0.0.1:{port}/api/v1/units/23/reports/2010"
                ))
                .bearer_auth(&token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let pid = server.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        slow.await.unwrap().unwrap(),
        200,
        "the request in flight finished"
    );
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn request_limits_and_graceful_shutdown_on_sqlite() {
    request_limits_and_graceful_shutdown().await;
}

#[tokio::test]
async fn exporting_everything_imports_back_unchanged() {
    let db = TestDatabase::sqlite();
    let small = db.data_dir.join("small.csv");
    std::fs::write(&small, services_csv(40, 0)).unwrap();
    assert!(
        run(&db, &["import", "records", small.to_str().unwrap()])
            .status
            .success()
    );
    let out = db.data_dir.join("everything");
    let output = run(
        &db,
        &[
            "export",
            "all",
            "--year",
            "2010",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let services = out.join("23-2010-services.csv");
    let csv = std::fs::read_to_string(&services).unwrap();
    assert_eq!(csv.lines().count(), 41, "header and 40 rows");
    assert!(out.join("23-2010-services.xlsx").exists());
    assert!(out.join("23-2010-profile.xlsx").exists());
    for file in ["23-2010-services.csv", "23-2010-services.xlsx"] {
        let output = run(
            &db,
            &["import", "records", out.join(file).to_str().unwrap()],
        );
        assert!(output.status.success(), "{}", text(&output));
        assert!(
            text(&output).contains("新增 0 条，未变 40 条，修改 0 条"),
            "{}",
            text(&output)
        );
    }
    // A directory with something in it is not written into.
    let output = run(
        &db,
        &[
            "export",
            "all",
            "--year",
            "2010",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    assert!(text(&output).contains("不为空"));
}

#[tokio::test]
async fn scheduled_backups_are_taken_and_pruned() {
    let db = TestDatabase::sqlite();
    let dir = db.data_dir.join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "kept").unwrap();
    let port = free_port();
    let mut server = start_server(
        &db,
        port,
        &[
            "--backup-every",
            "1s",
            "--backup-keep",
            "2",
            "--backup-dir",
            dir.to_str().unwrap(),
        ],
    )
    .await;
    let started = Instant::now();
    let backups = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("shequ-") && n.ends_with(".db"))
            .collect();
        names.sort();
        names
    };
    // Backups are named by the second, so three turns make three names; two are kept.
    while started.elapsed() < Duration::from_secs(60) && backups().len() < 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    kill(&mut server);
    let kept = backups();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(dir.join("notes.txt").exists(), "other files are left alone");
    // Each is a whole database that restores and checks.
    let target = TestDatabase::sqlite();
    let output = run(&target, &["restore", dir.join(&kept[1]).to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
}

#[tokio::test]
async fn the_demo_fills_its_own_directory_and_never_a_real_one() {
    let db = TestDatabase::sqlite();
    let demo_dir = db.data_dir.join("demo");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = db.data_dir.join("demo.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_shequ"))
        .args(["serve", "--demo", "--listen", &listen, "--data-dir"])
        .arg(&demo_dir)
        .env_remove("SHEQU_DATABASE_URL")
        .env_remove("SHEQU_CONFIG")
        .env("SHEQU_DATA_DIR", &db.data_dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(demo_dir.join("shequ.db").exists());
    assert!(
        !db.data_dir.join("shequ.db").exists(),
        "the configured directory is untouched"
    );
    let body: Value = client
        .post(format!("http://{listen}/api/v1/auth/login"))
        .json(&json!({"username": "demo_county", "password": shequ_app::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let year = shequ_app::today().year();
    let report: Value = client
        .get(format!(
            "http://{listen}/api/v1/units/230102/reports/{year}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        report["services"]["records"].as_i64().unwrap() > 1000,
        "{report}"
    );
    assert!(report["activities"]["total"].as_i64().unwrap() > 100);
    let page = client
        .get(format!("http://{listen}/units/230102/bulletin/{year}"))
        .header("cookie", format!("shequ_session={token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("演示数据"), "every page says demo");
    assert!(page.contains("<svg"));
    kill(&mut server);
    // A real database is never used for the demo.
    let real = TestDatabase::sqlite();
    create_admin(&real);
    let output = Command::new(env!("CARGO_BIN_EXE_shequ"))
        .args(["serve", "--demo", "--listen", &listen, "--data-dir"])
        .arg(&real.data_dir)
        .env_remove("SHEQU_DATABASE_URL")
        .env_remove("SHEQU_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("不是演示数据库"),
        "{}",
        text(&output)
    );
    let output = Command::new(env!("CARGO_BIN_EXE_shequ"))
        .args([
            "serve",
            "--demo",
            "--database-url",
            "postgres://x@127.0.0.1/y",
        ])
        .env_remove("SHEQU_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("演示模式只使用自己的"),
        "{}",
        text(&output)
    );
}

async fn records_in(dir: &std::path::Path) -> i64 {
    let store = shequ_store::SqlStore::connect(&format!("sqlite://{}", dir.display()))
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM records")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    n
}

#[tokio::test]
async fn restores_never_lose_what_they_replace() {
    // A source with 8 records and its backup; an older backup with none.
    let source = TestDatabase::sqlite();
    let empty = source.data_dir.join("empty.db");
    let small = source.data_dir.join("small.csv");
    std::fs::write(&small, services_csv(8, 0)).unwrap();
    assert!(
        run(&source, &["import", "records", small.to_str().unwrap()])
            .status
            .success()
    );
    let full = source.data_dir.join("full.db");
    assert!(
        run(&source, &["backup", "--out", full.to_str().unwrap()])
            .status
            .success()
    );
    // (An import of a missing file still initialises the fresh database to back up.)
    let fresh = TestDatabase::sqlite();
    let _ = run(&fresh, &["import", "records", "/nonexistent.csv"]);
    let output = run(&fresh, &["backup", "--out", empty.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));

    // Two forced restores in a row keep both databases they replaced.
    let target = TestDatabase::sqlite();
    assert!(
        run(&target, &["restore", full.to_str().unwrap()])
            .status
            .success()
    );
    for _ in 0..2 {
        let output = run(&target, &["restore", "--force", empty.to_str().unwrap()]);
        assert!(output.status.success(), "{}", text(&output));
    }
    let mut kept: Vec<std::path::PathBuf> = std::fs::read_dir(&target.data_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("before-restore")
                && !p.to_string_lossy().ends_with("-wal")
                && !p.to_string_lossy().ends_with("-shm")
        })
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(
        records_in(&kept[0]).await,
        8,
        "the first replaced database is whole"
    );

    // A log left without its database is moved aside, not applied to the restored copy.
    let orphan = TestDatabase::sqlite();
    std::fs::write(orphan.data_dir.join("shequ.db-wal"), vec![7u8; 4096]).unwrap();
    let output = run(&orphan, &["restore", "--force", full.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert_check_passes(&orphan);

    // A backup newer than this program is refused before anything is replaced.
    let future = source.data_dir.join("future.db");
    std::fs::copy(&full, &future).unwrap();
    let store = shequ_store::SqlStore::connect(&format!("sqlite://{}", future.display()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01T00:00:00Z')")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let output = run(&target, &["restore", "--force", future.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("比本程序支持的"),
        "{}",
        text(&output)
    );
    assert_check_passes(&target);

    // The live file of a database with its log beside it is not a backup.
    std::fs::write(source.data_dir.join("full.db-wal"), b"pending").unwrap();
    let output = run(
        &TestDatabase::sqlite(),
        &["restore", full.to_str().unwrap()],
    );
    assert!(!output.status.success());
    assert!(text(&output).contains("未合并的日志"), "{}", text(&output));
    std::fs::remove_file(source.data_dir.join("full.db-wal")).unwrap();

    // Not while a server runs on the directory.
    let port = free_port();
    let mut server = start_server(&target, port, &[]).await;
    let output = run(&target, &["restore", "--force", full.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("正被运行中的 shequ 服务器使用"),
        "{}",
        text(&output)
    );
    kill(&mut server);

    // Backups and checks of a directory without a database are refused, not run on a new one.
    let typo = TestDatabase::sqlite();
    for args in [
        vec!["check"],
        vec!["backup", "--out", "/tmp/never-written.db"],
    ] {
        let output = run(&typo, &args);
        assert!(!output.status.success());
        assert!(text(&output).contains("中没有数据库"), "{}", text(&output));
    }
    assert!(!typo.data_dir.join("shequ.db").exists());
}

#[test]
fn pruning_touches_only_scheduled_backups() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "shequ-20101201T000000.000Z.db",
        "shequ-20101202T000000.000Z.db",
        "shequ-20101203T000000.000Z.db",
        "shequ-before-upgrade.db",
        "shequ-20000101T000000Z.db",
    ] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    std::fs::create_dir(dir.path().join("shequ-19990101T000000.000Z.db")).unwrap();
    let removed = shequ_app::prune_backups(dir.path(), 2).unwrap();
    assert_eq!(
        removed,
        vec![dir.path().join("shequ-20101201T000000.000Z.db")]
    );
    for kept in [
        "shequ-before-upgrade.db",
        "shequ-20000101T000000Z.db",
        "shequ-19990101T000000.000Z.db",
    ] {
        assert!(dir.path().join(kept).exists(), "{kept}");
    }
}

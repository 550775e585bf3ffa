//! `shequ`: the one binary. The command line acts with the operator's full authority: whoever
//! can reach the data directory or the database URL is trusted.

mod commands;
mod config;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::config::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match settings::Settings::resolve(&cli) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("错误：{e:#}");
            return ExitCode::FAILURE;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHEQU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        settings::LogFormat::Text => logs.init(),
        // One JSON object a line, with the request's span (its request_id) on every line.
        settings::LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("错误：无法启动运行时：{e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{e:#}");
            ExitCode::FAILURE
        }
    }
}

//! api-lambda: the same router under AWS Lambda (API Gateway HTTP API) or as a local server.

use std::process::ExitCode;

use api_lambda::config::Config;
use clap::Parser;
use jobs_aws::client;
use jobs_runtime::{exit, shutdown, telemetry};

fn main() -> ExitCode {
    // Before the runtime starts its threads: it sets an environment variable.
    client::prefer_ca_bundle();
    run(Config::parse())
}

#[tokio::main]
async fn run(config: Config) -> ExitCode {
    telemetry::init();
    let sdk = match client::load(client::Timeouts::API).await {
        Ok(sdk) => sdk,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let state = match api_lambda::state(&config, &sdk).await {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "cannot reach the job queue");
            return ExitCode::from(exit::BACKEND);
        }
    };
    let app = api_lambda::router(state);
    let result = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_http::run(app).await.map_err(|e| e.to_string())
    } else {
        let allowed: std::sync::Arc<[String]> = config.allowed_hosts.clone().into();
        let app = app.layer(axum::middleware::from_fn_with_state(allowed, api_lambda::middleware::local_door));
        serve(app, config.bind_addr).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(app: axum::Router, addr: std::net::SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown::stop_requested()).await.map_err(|e| e.to_string())
}

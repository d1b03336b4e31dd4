//! The `api-lambda` binary served on a free port, bound to a [`Stack`]; killed when dropped.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{Stack, free_port};

pub struct Api {
    _child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    /// Starts `program` (the api-lambda binary) with the stack's environment plus `extra`.
    pub async fn start(stack: &Stack, program: &Path, extra: &[(&str, &str)]) -> Api {
        let port = free_port();
        let child = Command::new(program)
            .env_clear()
            .envs(stack.api_env())
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("LOG_FORMAT", "text")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "the API did not listen within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Api { _child: child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() }
    }

    /// One request: (status, JSON body, or the text as a JSON string, or null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body.to_string()), &[]).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, &[]).await
    }
}

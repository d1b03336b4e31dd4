//! Schemathesis (pinned in `.venv-lint`) against the running API and its own `/openapi.json`, with
//! every check: no server errors, every answer as documented, valid input accepted and invalid
//! input refused. `make test-api-fuzz` runs it (it needs `make venv-lint`).

use std::path::Path;
use std::time::Instant;

use testkit::{Api, Stack};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs schemathesis from .venv-lint: make test-api-fuzz"]
async fn schemathesis_finds_no_mismatch() {
    let stack = Stack::start().await;
    let api = Api::start(&stack, Path::new(env!("CARGO_BIN_EXE_api-lambda")), &[]).await;
    let st = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-lint/bin/st");
    assert!(st.exists(), "{} is missing: run make venv-lint", st.display());
    let examples = std::env::var("FUZZ_EXAMPLES").unwrap_or_else(|_| "40".into());
    // A fixed seed by default, so CI is reproducible; FUZZ_SEED explores others.
    let seed = std::env::var("FUZZ_SEED").unwrap_or_else(|_| "1".into());
    let started = Instant::now();
    let out = Command::new(&st)
        .args(["run", &format!("{}/openapi.json", api.base), "--checks", "all", "--max-examples", &examples])
        .args(["--request-timeout", "10", "--no-color", "--seed", &seed])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await
        .expect("run schemathesis");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}\n(schemathesis took {:.0?})", started.elapsed());
    assert!(out.status.success(), "schemathesis found problems (see above)");
}

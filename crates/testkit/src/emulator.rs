//! The AWS-API endpoint the tests talk to: an emulator process on a free port (ministack or moto),
//! killed when dropped, or an endpoint somebody else runs (`EMULATOR=external`: LocalStack in CI,
//! a shared ministack), which the harness only connects to.
//!
//! Endpoints differ in what they emulate beyond the APIs; [`Feature`] names those differences so a
//! test that needs one skips, saying why, where it is missing.

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub const REGION: &str = "us-east-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ministack,
    Moto,
    /// An endpoint the harness did not start (`AWS_ENDPOINT_URL`); its features come from
    /// `EMULATOR_FEATURES`.
    External,
}

/// Behaviour beyond the API calls that some tests need and not every endpoint has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// EventBridge Scheduler invokes its targets (sends the template to SQS when a schedule fires).
    ScheduleFiring,
    /// DynamoDB deletes items whose TTL attribute has passed (within minutes, not hours).
    Ttl,
    /// SQS refuses a message body with a character outside its set (`InvalidMessageContents`),
    /// as AWS does.
    SqsCharset,
}

impl Feature {
    pub const ALL: [Feature; 3] = [Feature::ScheduleFiring, Feature::Ttl, Feature::SqsCharset];

    /// The name in `EMULATOR_FEATURES`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::ScheduleFiring => "schedule-firing",
            Feature::Ttl => "ttl",
            Feature::SqsCharset => "sqs-charset",
        }
    }

    fn missing(self) -> &'static str {
        match self {
            Feature::ScheduleFiring => "does not fire EventBridge schedules",
            Feature::Ttl => "does not delete expired items (DynamoDB TTL)",
            Feature::SqsCharset => "accepts SQS message bodies outside SQS's character set",
        }
    }
}

/// Parses `EMULATOR_FEATURES` ("schedule-firing,ttl"; empty or unset: none).
pub fn parse_features(list: &str) -> Result<Vec<Feature>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            Feature::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
                let known: Vec<_> = Feature::ALL.iter().map(|f| f.name()).collect();
                format!("unknown feature {name:?} in EMULATOR_FEATURES (known: {})", known.join(", "))
            })
        })
        .collect()
}

impl Kind {
    /// From `EMULATOR` (default ministack).
    pub fn from_env() -> Kind {
        match std::env::var("EMULATOR").as_deref() {
            Ok("moto") => Kind::Moto,
            Ok("external") => Kind::External,
            Ok("ministack") | Ok("") | Err(_) => Kind::Ministack,
            Ok(other) => panic!("EMULATOR must be ministack, moto or external, got {other:?}"),
        }
    }

    /// What the emulators this harness starts provide (measured; see docs/testing.md).
    fn features(self) -> Vec<Feature> {
        match self {
            Kind::Ministack => vec![Feature::ScheduleFiring, Feature::Ttl, Feature::SqsCharset],
            Kind::Moto => vec![],
            Kind::External => parse_features(&std::env::var("EMULATOR_FEATURES").unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}")),
        }
    }
}

/// A reachable endpoint; a process the harness started is killed (and reaped) on drop.
pub struct Emulator {
    child: Option<Child>,
    pub kind: Kind,
    pub endpoint: String,
    /// The emulator's output, for a process the harness started.
    pub log: Option<PathBuf>,
    features: Vec<Feature>,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

fn bin(var: &str, name: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => workspace_root().join(".venv/bin").join(name),
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Whether `host:port` of an http(s) URL accepts a connection.
fn reachable(url: &reqwest::Url) -> bool {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return false };
    (host, port)
        .to_socket_addrs()
        .map(|mut addrs| addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok()))
        .unwrap_or(false)
}

impl Emulator {
    /// The endpoint `EMULATOR` picks: a new emulator process on a free port, or the external
    /// `AWS_ENDPOINT_URL`; returns once it answers.
    pub fn start() -> Emulator {
        match Kind::from_env() {
            Kind::External => Emulator::external(),
            kind => Emulator::spawn(kind),
        }
    }

    fn external() -> Emulator {
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .expect("EMULATOR=external needs AWS_ENDPOINT_URL (e.g. http://127.0.0.1:4566)");
        Emulator::external_at(&endpoint, Kind::External.features())
    }

    /// An endpoint somebody else runs, providing `features`; returns once it accepts connections.
    pub fn external_at(endpoint: &str, features: Vec<Feature>) -> Emulator {
        let url = reqwest::Url::parse(endpoint).unwrap_or_else(|e| panic!("AWS_ENDPOINT_URL {endpoint:?}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reachable(&url) {
            assert!(Instant::now() < deadline, "the external endpoint {endpoint} did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        Emulator { child: None, kind: Kind::External, endpoint, log: None, features }
    }

    /// A new emulator process of `kind` (ministack or moto) on a free port.
    pub fn spawn(kind: Kind) -> Emulator {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("emulator-{port}.log"));
        let out = std::fs::File::create(&log).expect("emulator log file");
        let mut cmd = match kind {
            Kind::Ministack => {
                let mut c = Command::new(bin("MINISTACK_BIN", "ministack"));
                c.env("GATEWAY_PORT", port.to_string())
                    .env("BIND_HOST", "127.0.0.1")
                    .env("SERVICES", "sqs,dynamodb,scheduler")
                    .env("LOG_LEVEL", "WARNING");
                c
            }
            Kind::Moto => {
                let mut c = Command::new(bin("MOTO_BIN", "moto_server"));
                c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                c
            }
            Kind::External => unreachable!("an external endpoint is not started here"),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind:?} ({e}); run `make venv` first"));
        let mut child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
                panic!("{kind:?} exited with {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "{kind:?} did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Emulator {
            child,
            kind,
            endpoint: format!("http://127.0.0.1:{port}"),
            log: Some(log),
            features: kind.features(),
        }
    }

    /// Whether this endpoint provides `feature`.
    pub fn provides(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// For a test that needs `feature`: true when the endpoint lacks it. The test then returns at
    /// once; the reason goes to stderr and to the file `TEST_SKIP_LOG` names (`make` prints it), so
    /// a skip is never a silent pass.
    pub fn lacks(&self, feature: Feature) -> bool {
        if self.provides(feature) {
            return false;
        }
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let line = format!("SKIPPED {test}: the {:?} endpoint {}", self.kind, feature.missing());
        eprintln!("{line}");
        if let Some(path) = std::env::var_os("TEST_SKIP_LOG") {
            use std::io::Write;
            let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
            if let Err(e) = file.and_then(|mut f| writeln!(f, "{line}")) {
                eprintln!("cannot record the skip in {}: {e}", PathBuf::from(path).display());
            }
        }
        true
    }

    /// Environment that points the AWS SDK (and so the worker binary) at this endpoint.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    pub fn sdk_config(&self) -> SdkConfig {
        Emulator::sdk_config_for(&self.endpoint)
    }

    /// An SDK configuration for `endpoint` with the emulators' test credentials.
    pub fn sdk_config_for(endpoint: &str) -> SdkConfig {
        let creds = aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "testkit");
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(creds))
            .build()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_parse_from_a_comma_list() {
        let table: [(&str, Result<Vec<Feature>, ()>); 5] = [
            ("", Ok(vec![])),
            ("ttl", Ok(vec![Feature::Ttl])),
            (" schedule-firing , ttl ", Ok(vec![Feature::ScheduleFiring, Feature::Ttl])),
            ("ttl,,", Ok(vec![Feature::Ttl])),
            ("firing", Err(())),
        ];
        for (input, want) in table {
            assert_eq!(parse_features(input).map_err(|_| ()), want, "{input:?}");
        }
    }
}

//! The worker's footprint: peak memory of a run that takes one job, process start to its first
//! ReceiveMessage (seen by the proxy), and the image's size.

use serde::Serialize;
use testkit::Stack;

use crate::procs;
use crate::proxy::Proxy;
use crate::stats::percentile;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Footprint {
    pub runs: usize,
    pub peak_rss_mib_median: f64,
    pub peak_rss_mib_max: f64,
    pub start_to_first_receive_ms_median: f64,
    pub start_to_first_receive_ms_max: f64,
    pub image: String,
    pub image_mib: Option<f64>,
}

pub async fn measure(stack: &Stack, proxy: &Proxy, runs: usize, image: &str) -> Result<Footprint, String> {
    let env = procs::env_via(stack.worker_env(), &proxy.endpoint);
    let worker = procs::binary("data-processor");
    let (mut rss, mut first) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        stack.submit("noop", serde_json::Value::Null).await;
        proxy.take();
        let run = procs::run_worker(&worker, &env, &[("WAIT_TIME_SECS", "5")]).await;
        if run.code != 0 {
            return Err(format!("worker exited {}", run.code));
        }
        let calls = proxy.take();
        let receive =
            calls.iter().filter(|c| c.operation == "ReceiveMessage").map(|c| c.at).min().ok_or("no ReceiveMessage")?;
        first.push((receive - run.started).as_secs_f64() * 1000.0);
        rss.push(run.peak_rss_kib as f64 / 1024.0);
    }
    Ok(Footprint {
        runs,
        peak_rss_mib_median: percentile(&rss, 50.0),
        peak_rss_mib_max: percentile(&rss, 100.0),
        start_to_first_receive_ms_median: percentile(&first, 50.0),
        start_to_first_receive_ms_max: percentile(&first, 100.0),
        image: image.to_owned(),
        image_mib: image_size(image).map(|b| b as f64 / (1024.0 * 1024.0)),
    })
}

/// The image's size from docker or podman, if either has it.
fn image_size(image: &str) -> Option<u64> {
    for engine in ["docker", "podman"] {
        let out =
            std::process::Command::new(engine).args(["image", "inspect", "--format", "{{.Size}}", image]).output();
        if let Ok(out) = out
            && out.status.success()
        {
            return String::from_utf8_lossy(&out.stdout).trim().parse().ok();
        }
    }
    None
}

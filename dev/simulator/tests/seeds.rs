//! The short simulation inside `make test`: a few seeds of the real worker, reconciler and API
//! under crashes, stops, lost answers, throttling and outages; every invariant must hold. `make
//! simulate` runs many more. A failure names the seed and the command that replays it.

#[test]
fn the_real_code_keeps_every_invariant_under_the_simulated_faults() {
    let seeds: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(64);
    let options = simulator::Options::default();
    let mut kills = 0;
    for seed in 1..=seeds {
        match simulator::run(seed, &options) {
            Ok(summary) => {
                assert!(summary.checked.jobs > 0, "seed {seed} ran jobs");
                kills += summary.pods.crashed_at.len();
            }
            Err(failure) => {
                let (violation, summary) = *failure;
                panic!(
                    "seed {seed} broke an invariant after {} steps: {violation}\nreplay: {}",
                    summary.steps,
                    simulator::replay(seed)
                );
            }
        }
    }
    assert!(kills > 0, "the runs killed processes");
}

#[test]
fn a_seed_is_a_run() {
    let options = simulator::Options { jobs: 12, ..simulator::Options::default() };
    for seed in 1..=4 {
        let (a, b) = (simulator::run(seed, &options).expect("a seed"), simulator::run(seed, &options).expect("again"));
        assert_eq!(
            (a.steps, &a.pods.crashed_at, a.simulated, a.digest),
            (b.steps, &b.pods.crashed_at, b.simulated, b.digest),
            "seed {seed}: the same events, kills, time and final items"
        );
    }
    let other = simulator::run(5, &options).expect("seed 5");
    assert_ne!(other.digest, simulator::run(1, &options).expect("seed 1").digest, "another seed: another run");
}

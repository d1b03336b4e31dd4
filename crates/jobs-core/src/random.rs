//! Randomness as a port: the write tokens the store makes (which also pick a counter's shard) are
//! drawn from a [`Random`], so the simulator can draw them from its seed and replay a run
//! exactly. Production uses [`SystemRandom`] (the OS's generator, through `uuid`).

use std::fmt::Debug;
use std::sync::Arc;

/// Where random numbers come from.
pub trait Random: Send + Sync + Debug {
    fn next_u64(&self) -> u64;

    /// A fresh write token: 32 hex digits, as a v4 UUID's simple form has.
    fn token(&self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

/// The operating system's randomness.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn next_u64(&self) -> u64 {
        uuid::Uuid::new_v4().as_u64_pair().0
    }

    fn token(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

/// Randomness shared by a process's parts.
pub type SharedRandom = Arc<dyn Random>;

/// The operating system's randomness, shared.
pub fn system() -> SharedRandom {
    Arc::new(SystemRandom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Counting(std::sync::atomic::AtomicU64);

    impl Random for Counting {
        fn next_u64(&self) -> u64 {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[test]
    fn tokens_are_32_hex_digits_and_differ() {
        let a = system().token();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, system().token());
        let counting = Counting(0.into());
        assert_eq!(counting.token(), format!("{:016x}{:016x}", 0, 1), "drawn from the source, in order");
    }
}

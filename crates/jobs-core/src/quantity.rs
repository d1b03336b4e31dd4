//! Kubernetes resource quantities (`250m`, `1`, `512Mi`, `1.5G`, `129e6`), as the Job template's
//! `resources.limits` spells them.

/// A quantity as a whole number of its unit × 1000 (millis), so `250m` CPU is 250 and `1` is 1000.
pub fn parse_millis(text: &str) -> Result<u128, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a Kubernetes quantity (e.g. 250m, 1, 512Mi, 1G)");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') && number.len() == 1 {
        return Err(bad());
    }
    let number = number.strip_prefix('+').unwrap_or(number);
    // value = mantissa / 10^decimals
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(bad());
    }
    let digits = format!("{whole}{frac}");
    let mantissa: u128 = digits.parse().map_err(|_| bad())?;
    let decimals = frac.len() as i32;
    // The suffix as a multiplier: binary (Ki..Ei), decimal (m, k..E) or an exponent (e6, E3).
    let (multiplier, exp10): (u128, i32) = match suffix {
        "" => (1, 0),
        "Ki" => (1 << 10, 0),
        "Mi" => (1 << 20, 0),
        "Gi" => (1 << 30, 0),
        "Ti" => (1 << 40, 0),
        "Pi" => (1 << 50, 0),
        "Ei" => (1 << 60, 0),
        "n" => (1, -9),
        "u" => (1, -6),
        "m" => (1, -3),
        "k" => (1, 3),
        "M" => (1, 6),
        "G" => (1, 9),
        "T" => (1, 12),
        "P" => (1, 15),
        "E" => (1, 18),
        s if s.starts_with(['e', 'E']) => (1, s[1..].parse::<i32>().map_err(|_| bad())?),
        _ => return Err(bad()),
    };
    // millis = mantissa × multiplier × 10^(exp10 + 3 - decimals), rounded up like Kubernetes does.
    let scale = exp10 + 3 - decimals;
    let base = mantissa.checked_mul(multiplier).ok_or_else(bad)?;
    if scale >= 0 {
        base.checked_mul(10u128.checked_pow(scale as u32).ok_or_else(bad)?).ok_or_else(bad)
    } else {
        let div = 10u128.checked_pow((-scale) as u32).ok_or_else(bad)?;
        Ok(base.div_ceil(div))
    }
}

/// CPU in millicores (`250m` → 250, `1` → 1000).
pub fn cpu_millis(text: &str) -> Result<u64, String> {
    parse_millis(text).and_then(|m| u64::try_from(m).map_err(|_| format!("CPU quantity {text:?} is too large")))
}

/// Memory in bytes (`512Mi` → 536870912), rounded up to a whole byte.
pub fn bytes(text: &str) -> Result<u64, String> {
    parse_millis(text)
        .and_then(|m| u64::try_from(m.div_ceil(1000)).map_err(|_| format!("memory quantity {text:?} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities() {
        for (text, millis) in
            [("250m", 250), ("1", 1000), ("0.5", 500), ("2", 2000), ("1500m", 1500), (".1", 100), ("100u", 1)]
        {
            assert_eq!(cpu_millis(text), Ok(millis), "{text}");
        }
    }

    #[test]
    fn memory_quantities() {
        for (text, b) in [
            ("512Mi", 512 << 20),
            ("128Mi", 128 << 20),
            ("1Gi", 1 << 30),
            ("1G", 1_000_000_000),
            ("129e6", 129_000_000),
            ("128974848", 128_974_848),
            ("1.5Gi", 3 << 29),
            ("64k", 64_000),
            ("1Ki", 1024),
        ] {
            assert_eq!(bytes(text), Ok(b), "{text}");
        }
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for text in ["", "Mi", "1.2.3", "12 Mi", "1MB", "-1", "abc", "1e", "."] {
            assert!(parse_millis(text).is_err(), "{text:?} should be rejected");
        }
    }
}

//! Byte counts on the command line (`--max-size 20MiB`), in the way ripgrep's size flags read
//! them: digits, then an optional unit. K, M and G are binary (KiB, MiB, GiB), as ripgrep's are.

/// The units accepted after the digits, and their multipliers.
const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("B", 1),
    ("K", 1 << 10),
    ("KiB", 1 << 10),
    ("M", 1 << 20),
    ("MiB", 1 << 20),
    ("G", 1 << 30),
    ("GiB", 1 << 30),
];

/// Parses `1048576`, `512K`, `20MiB`, `1G` (clap's value parser for `--max-size`).
pub fn parse_size(value: &str) -> Result<u64, String> {
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let accepted = "accepted: plain bytes, or digits followed by B, K, KiB, M, MiB, G or GiB";
    if number.is_empty() {
        return Err(format!("'{value}' is not a size: expected digits first ({accepted})"));
    }
    let Some((_, times)) = UNITS.iter().find(|(u, _)| *u == unit.trim()) else {
        return Err(format!("'{value}': unknown unit '{unit}' ({accepted})"));
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(*times))
        .ok_or_else(|| format!("'{value}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_and_units() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2K"), Ok(2048));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("5MB").unwrap_err().contains("unknown unit 'MB'"));
        assert!(parse_size("5MB").unwrap_err().contains("KiB, M, MiB, G or GiB"));
        assert!(parse_size("M").unwrap_err().contains("expected digits"));
        assert!(parse_size("99999999999999999999").unwrap_err().contains("too large"));
    }
}

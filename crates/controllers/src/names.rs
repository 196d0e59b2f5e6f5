//! Object names the controllers choose: `generateReplicaSetName` (pkg/controller/deployment/
//! sync.go), `getPodsPrefix` (controller_utils.go) and the apiserver's `generateName`
//! (k8s.io/apiserver/pkg/storage/names: base truncated to 58, plus `rand.String(5)`).

use crate::hash::ALPHANUMS;

/// `validation.DNS1123SubdomainMaxLength`.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Length of the random suffix of a generated name (`randomLength`).
pub const GENERATED_SUFFIX_LENGTH: usize = 5;
/// Longest base kept by `generateName` (`maxGeneratedNameLength` = 63 − 5).
pub const MAX_GENERATED_BASE_LENGTH: usize = 63 - GENERATED_SUFFIX_LENGTH;
/// How many names the apiserver tries before giving up (`maxNameGenerationCreateAttempts`).
pub const MAX_NAME_GENERATION_ATTEMPTS: usize = 8;

/// Where random choices come from, so tests are deterministic: `index(n)` is uniform in `0..n`.
pub trait RandomSource {
    /// A uniformly random index below `n` (`n > 0`).
    fn index(&mut self, n: usize) -> usize;
}

impl<F: FnMut(usize) -> usize> RandomSource for F {
    fn index(&mut self, n: usize) -> usize {
        self(n) % n.max(1)
    }
}

/// A deterministic source for tests and reproducible runs: a 64-bit linear congruential
/// generator (Knuth's MMIX constants).
#[derive(Debug, Clone)]
pub struct SeededRandom(pub u64);

impl RandomSource for SeededRandom {
    fn index(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// `rand.String(n)`: `n` characters drawn from the 27-character alphabet.
pub fn random_string(rng: &mut dyn RandomSource, n: usize) -> String {
    (0..n)
        .map(|_| ALPHANUMS[rng.index(ALPHANUMS.len())] as char)
        .collect()
}

/// `names.SimpleNameGenerator.GenerateName(base)`: `base` (truncated to 58 bytes) followed by
/// 5 random characters.
pub fn generate_name(base: &str, rng: &mut dyn RandomSource) -> String {
    let mut cut = base.len().min(MAX_GENERATED_BASE_LENGTH);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}{}",
        &base[..cut],
        random_string(rng, GENERATED_SUFFIX_LENGTH)
    )
}

/// `generateReplicaSetName(name, hash)`: `<deployment>-<hash>`, the Deployment part truncated
/// so that the whole fits a DNS-1123 subdomain.
pub fn replica_set_name(deployment: &str, hash: &str) -> String {
    let max = DNS1123_SUBDOMAIN_MAX_LENGTH.saturating_sub(hash.len() + 1);
    let mut cut = deployment.len().min(max);
    while !deployment.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{hash}", &deployment[..cut])
}

/// `getPodsPrefix(controllerName)`: `<name>-`, or the bare name when `<name>-` would not be a
/// valid pod name prefix (it always is for a valid controller name).
pub fn pods_prefix(controller_name: &str) -> String {
    let prefix = format!("{controller_name}-");
    let base = prefix.trim_end_matches('-');
    if podvisor_lifecycle::meta::is_dns1123_subdomain(base).is_empty() || base.is_empty() {
        prefix
    } else {
        controller_name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_use_the_alphabet_and_truncate() {
        let mut rng = SeededRandom(7);
        let n = generate_name("web-5d59d67564-", &mut rng);
        assert!(n.starts_with("web-5d59d67564-"));
        assert_eq!(n.len(), "web-5d59d67564-".len() + 5);
        assert!(n[15..].bytes().all(|b| ALPHANUMS.contains(&b)));
        let long = "a".repeat(100);
        assert_eq!(generate_name(&long, &mut rng).len(), 63);
        // A closure is a source too.
        let mut zero = |_n: usize| 0usize;
        assert_eq!(generate_name("x-", &mut zero), "x-bbbbb");
    }

    #[test]
    fn replica_set_names() {
        assert_eq!(replica_set_name("web", "5d59d67564"), "web-5d59d67564");
        let long = "d".repeat(260);
        let n = replica_set_name(&long, "5d59d67564");
        assert_eq!(n.len(), 253);
        assert!(n.ends_with("-5d59d67564"));
        assert_eq!(pods_prefix("web-5d59d67564"), "web-5d59d67564-");
    }
}

//! The `pod-template-hash`: `controller.ComputeHash` (pkg/controller/controller_utils.go) —
//! FNV-1a 32 over the template, then the collision count as 8 little-endian bytes, the `uint32`
//! printed in decimal and each digit mapped by `rand.SafeEncodeString`
//! (k8s.io/apimachinery/pkg/util/rand).
//!
//! Upstream hashes Go's `%#v`-style deep dump of the struct (`hashutil.DeepHashObject`), which
//! cannot be reproduced outside Go; here the template's canonical JSON (k8s-openapi field order,
//! sorted maps) is hashed. The format is identical (≤ 10 characters of `4-9bcdf`), the values
//! differ from a real cluster's, and they are stable across restarts.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The label a Deployment adds to its ReplicaSets, their selector and their pods
/// (`apps.DefaultDeploymentUniqueLabelKey`).
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// The alphabet of `rand.SafeEncodeString` and `rand.String`: no vowels, no `0`, `1`, `3`
/// (to avoid bad words and look-alikes).
pub const ALPHANUMS: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 32 bits (`hash/fnv.New32a`).
#[derive(Debug, Clone, Copy)]
pub struct Fnv32a(u32);

impl Default for Fnv32a {
    fn default() -> Self {
        Fnv32a(0x811c_9dc5)
    }
}

impl Fnv32a {
    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }

    /// The hash so far (`Sum32`).
    pub fn sum32(&self) -> u32 {
        self.0
    }
}

/// `rand.SafeEncodeString`: each byte replaced by `ALPHANUMS[byte % 27]`.
pub fn safe_encode_string(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// `ComputeHash(template, collisionCount)`: the `pod-template-hash` value of a template.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut h = Fnv32a::default();
    // Serialising a k8s-openapi value cannot fail (no non-string map keys); an empty dump
    // would still give a stable hash.
    h.write(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(count) = collision_count {
        let mut buf = [0u8; 8];
        // `binary.LittleEndian.PutUint32(buf, uint32(count))` into an 8-byte buffer.
        buf[..4].copy_from_slice(&(count as u32).to_le_bytes());
        h.write(&buf);
    }
    safe_encode_string(&h.sum32().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32a_known_vectors() {
        let sum = |s: &str| {
            let mut h = Fnv32a::default();
            h.write(s.as_bytes());
            h.sum32()
        };
        assert_eq!(sum(""), 0x811c_9dc5);
        assert_eq!(sum("a"), 0xe40c_292c);
        assert_eq!(sum("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn digits_map_as_the_spec_table() {
        // §1.4: 0→4 1→5 2→6 3→7 4→8 5→9 6→b 7→c 8→d 9→f.
        assert_eq!(safe_encode_string("0123456789"), "456789bcdf");
        // The spec's example `5d59d67564` is the encoding of the uint32 1815823120.
        assert_eq!(safe_encode_string("1815823120"), "5d59d67564");
    }

    #[test]
    fn hash_is_stable_and_depends_on_collision_count() {
        let t: PodTemplateSpec = serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}
        }))
        .unwrap();
        let a = compute_hash(&t, None);
        assert_eq!(a, compute_hash(&t, None));
        assert!(
            a.len() <= 10 && a.chars().all(|c| "456789bcdf".contains(c)),
            "{a}"
        );
        assert_ne!(a, compute_hash(&t, Some(1)));
        assert_ne!(compute_hash(&t, Some(1)), compute_hash(&t, Some(2)));
        // collisionCount 0 still feeds the 8 zero bytes, as upstream (pointer set).
        assert_ne!(a, compute_hash(&t, Some(0)));
    }
}

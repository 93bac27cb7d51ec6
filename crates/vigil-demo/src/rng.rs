//! A small deterministic random number generator (xoshiro256**, seeded with splitmix64).
//!
//! The demo must give the same bytes for the same seed forever, so it does not depend on
//! a crate whose algorithm might change. Each area of the generator draws from its own
//! stream, named by a label, so that adding events in one area does not shift the
//! values drawn in another.

/// One stream of pseudo-random numbers.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a stable hash for labels and names.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

/// `len` lower-case hex digits that depend only on `parts`: stands in for file hashes,
/// device ids and other digests that must stay the same for the same thing.
pub fn digest_hex(parts: &[&str], len: usize) -> String {
    let mut state = 0u64;
    for p in parts {
        state = fnv(p.as_bytes()) ^ state.rotate_left(17);
        state = splitmix(&mut state.clone());
    }
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(&format!("{:016x}", splitmix(&mut state)));
    }
    out.truncate(len);
    out
}

/// A GUID-shaped identifier that depends only on `parts`.
pub fn digest_guid(parts: &[&str]) -> String {
    guid_of(&digest_hex(parts, 32))
}

fn guid_of(hex: &str) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

impl Rng {
    /// A stream for `label` under `seed`.
    pub fn stream(seed: u64, label: &str) -> Rng {
        let mut state = seed ^ fnv(label.as_bytes()).rotate_left(7);
        let s = [
            splitmix(&mut state),
            splitmix(&mut state),
            splitmix(&mut state),
            splitmix(&mut state),
        ];
        Rng { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift keeps the bias far below anything a demo could show.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index into a collection of `len` items.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An item chosen with probability proportional to its weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (item, w) in items {
            if roll < u64::from(*w) {
                return item;
            }
            roll -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }

    /// `n` distinct indices into `0..len`, in ascending order.
    pub fn sample(&mut self, len: usize, n: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..len).collect();
        let n = n.min(len);
        for i in 0..n {
            let j = i + self.index(len - i);
            all.swap(i, j);
        }
        let mut out = all[..n].to_vec();
        out.sort_unstable();
        out
    }

    /// A random GUID (lower case, version-4 shaped).
    pub fn guid(&mut self) -> String {
        guid_of(&self.hex(32))
    }

    /// `len` random lower-case hex digits.
    pub fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len + 16);
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(len);
        out
    }

    /// A Windows process id (a multiple of four).
    pub fn pid(&mut self) -> i64 {
        self.range(200, 16_000) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_repeat_and_differ_by_label() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, "a").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::stream(7, "a").next_u64(),
            Rng::stream(7, "b").next_u64()
        );
        assert_ne!(
            Rng::stream(7, "a").next_u64(),
            Rng::stream(8, "a").next_u64()
        );
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::stream(1, "below");
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = rng.below(5) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn digests_depend_only_on_their_parts() {
        assert_eq!(digest_hex(&["a", "b"], 64), digest_hex(&["a", "b"], 64));
        assert_ne!(digest_hex(&["a", "b"], 64), digest_hex(&["ab"], 64));
        assert_eq!(digest_hex(&["x"], 40).len(), 40);
        assert_eq!(digest_guid(&["x"]).len(), 36);
    }
}

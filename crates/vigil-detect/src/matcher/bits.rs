//! A fixed-length set of row numbers, one bit a row.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    pub fn zeros(len: usize) -> Bits {
        Bits {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    pub fn ones(len: usize) -> Bits {
        let mut b = Bits {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        b.trim();
        b
    }

    /// Clears the bits past the end, so that counts and comparisons stay exact.
    fn trim(&mut self) {
        let tail = self.len % 64;
        if tail != 0
            && let Some(last) = self.words.last_mut()
        {
            *last &= (1u64 << tail) - 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes this set a copy of `other` (of the same length), keeping its memory.
    pub fn copy_from(&mut self, other: &Bits) {
        self.words.copy_from_slice(&other.words);
    }

    /// Empties the set, keeping its memory.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn none(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn and(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub fn or(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Removes the rows of `other`.
    pub fn remove(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// The row numbers in the set, in order.
    pub fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(i * 64 + bit)
            })
        })
    }
}

/// Spare row sets of one length, reused while rules are evaluated so that each step
/// of an expression does not allocate.
pub struct Pool {
    len: usize,
    free: Vec<Bits>,
}

impl Pool {
    pub fn new(len: usize) -> Pool {
        Pool {
            len,
            free: Vec::new(),
        }
    }

    /// An empty set.
    pub fn zeros(&mut self) -> Bits {
        match self.free.pop() {
            Some(mut b) => {
                b.clear();
                b
            }
            None => Bits::zeros(self.len),
        }
    }

    /// A copy of `src`.
    pub fn copy(&mut self, src: &Bits) -> Bits {
        match self.free.pop() {
            Some(mut b) => {
                b.copy_from(src);
                b
            }
            None => src.clone(),
        }
    }

    /// Returns a set for reuse.
    pub fn give(&mut self, b: Bits) {
        if b.len == self.len {
            self.free.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn set_operations_keep_to_the_length() {
        let mut a = Bits::ones(70);
        assert_eq!(a.count(), 70);
        let mut b = Bits::zeros(70);
        b.set(3);
        b.set(69);
        a.remove(&b);
        assert_eq!(a.count(), 68);
        assert!(!a.get(69) && a.get(68));
        let mut c = b.clone();
        c.and(&a);
        assert!(c.none());
        c.or(&b);
        assert_eq!(c.rows().collect::<Vec<_>>(), vec![3, 69]);
    }
}

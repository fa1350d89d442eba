//! CPU-bound checks (pairings, ~1-2 ms each) spread over the cores, in order.

/// The cores this process may use, read once. `std::thread::available_parallelism`
/// reads the cgroup files on every call (a few hundred microseconds here, more than a
/// pairing); the answer does not change while the process runs.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
}

/// Maps `f` over `items` on up to 8 scoped threads, keeping the order. If a worker
/// panics, each item of its chunk gets `on_panic` instead, so no item goes missing.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(usize, &T) -> R + Sync,
    on_panic: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let threads = cores().clamp(1, 8);
    let chunk = items.len().div_ceil(threads).max(1);
    let (f, on_panic) = (&f, &on_panic);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let base = c * chunk;
                (
                    base,
                    part,
                    s.spawn(move || part.iter().enumerate().map(|(j, it)| f(base + j, it)).collect::<Vec<R>>()),
                )
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(base, part, h)| {
                h.join().unwrap_or_else(|_| part.iter().enumerate().map(|(j, it)| on_panic(base + j, it)).collect())
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_indices() {
        let items: Vec<u32> = (0..1000).collect();
        let out = par_map(&items, |i, x| (i, x * 2), |_, _| unreachable!());
        assert_eq!(out, items.iter().enumerate().map(|(i, x)| (i, x * 2)).collect::<Vec<_>>());
        assert!(par_map(&[] as &[u32], |_, x| *x, |_, x| *x).is_empty());
    }

    #[test]
    fn a_panicking_worker_loses_no_item() {
        let items: Vec<u32> = (0..64).collect();
        let out = par_map(&items, |_, x| if *x == 5 { panic!("boom") } else { Ok(*x) }, |i, _| Err(i));
        assert_eq!(out.len(), 64);
        assert_eq!(out[5], Err(5));
        assert_eq!(out[63], Ok(63));
    }
}

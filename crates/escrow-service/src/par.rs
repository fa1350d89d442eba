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
    par_chunks(items, |base, part| part.iter().enumerate().map(|(j, it)| f(base + j, it)).collect(), on_panic)
}

/// Splits `items` into one run per thread (up to 8) and maps each run with `f`, which
/// gets the run's first index and must answer one result per item, in order: for work
/// that is cheaper done on a run at once (a batched pairing check) than item by item.
/// If a worker panics, or answers the wrong number of results, each item of its run
/// gets `on_panic` instead, so no item goes missing and none is misattributed.
pub fn par_chunks<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(usize, &[T]) -> Vec<R> + Sync,
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
                (base, part, s.spawn(move || f(base, part)))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(base, part, h)| match h.join() {
                Ok(out) if out.len() == part.len() => out,
                _ => part.iter().enumerate().map(|(j, it)| on_panic(base + j, it)).collect(),
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
    fn runs_start_at_their_first_index_and_a_short_answer_is_not_misattributed() {
        let items: Vec<u32> = (0..100).collect();
        let out = par_chunks(&items, |base, part| part.iter().map(|x| (base, *x)).collect(), |_, _| unreachable!());
        assert_eq!(out.len(), 100);
        assert!(out.iter().all(|(base, x)| base <= &(*x as usize)));
        let short = par_chunks(&items, |_, part| part.iter().skip(1).map(|x| Ok(*x)).collect(), |i, _| Err(i));
        assert_eq!(short.len(), 100);
        assert!(short.iter().enumerate().all(|(i, r)| *r == Err(i)));
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

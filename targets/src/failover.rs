//! Trying a request at a client's home node, then at the others.
//!
//! A client of a real target talks to its home member first (as Jepsen's clients are
//! bound to a node). When the request certainly never reached that member (the
//! connection failed), the next member is tried; any other answer, success or error,
//! is final, because a request that may have been received must not be sent twice.

use std::future::Future;

/// Runs `call` on `nodes[home]`, then on each following node (wrapping around) while
/// `unsent` says the error means the request never left; returns the first other
/// outcome, or the last unsent error when every node was tried.
///
/// # Panics
/// If `nodes` is empty (clients check this when they are made).
pub async fn from_home<N, T, E, F, Fut>(
    nodes: &[N],
    home: usize,
    unsent: impl Fn(&E) -> bool,
    call: F,
) -> Result<T, E>
where
    N: Clone,
    F: Fn(N) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let n = nodes.len();
    let mut last = None;
    for i in 0..n {
        match call(nodes[(home + i) % n].clone()).await {
            Err(e) if unsent(&e) => last = Some(e),
            other => return other,
        }
    }
    Err(last.expect("a client has at least one node"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Nodes 0..4; `down` refuse connections, node 3 answers with a definite error.
    async fn run(home: usize, down: &[usize]) -> (Result<usize, String>, Vec<usize>) {
        let tried = Mutex::new(Vec::new());
        let nodes = [0usize, 1, 2, 3];
        let r = from_home(
            &nodes,
            home,
            |e: &String| e.starts_with("refused"),
            |n| {
                tried.lock().unwrap().push(n);
                let down = down.contains(&n);
                async move {
                    match n {
                        _ if down => Err(format!("refused by {n}")),
                        3 => Err("precondition failed".to_string()),
                        n => Ok(n),
                    }
                }
            },
        )
        .await;
        (r, tried.into_inner().unwrap())
    }

    #[tokio::test]
    async fn only_requests_that_never_left_move_on() {
        assert_eq!(run(1, &[]).await, (Ok(1), vec![1]));
        assert_eq!(
            run(1, &[1, 2]).await,
            (Err("precondition failed".into()), vec![1, 2, 3])
        );
        assert_eq!(run(3, &[3]).await, (Ok(0), vec![3, 0]));
        assert_eq!(
            run(2, &[0, 1, 2, 3]).await,
            (Err("refused by 1".into()), vec![2, 3, 0, 1])
        );
    }
}

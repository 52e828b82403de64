//! Two-stage pipelining of stereo blocks: a producer on the calling thread hands copies of its
//! blocks to a consumer on a second thread, so that metering, writing or estimating overlaps
//! with processing the next block. Buffers travel back for reuse, so the steady state
//! allocates nothing.

use std::sync::mpsc::{channel, sync_channel};

/// The producer's handle: queues a copy of a block for the consumer; false once the consumer
/// has failed.
pub type BlockSend<'a> = &'a mut (dyn FnMut(&[f64], &[f64]) -> bool + Send);

/// Blocks in flight between the two threads.
const DEPTH: usize = 16;

/// Runs `produce` on this thread and `consume` on a second one. `produce` gets a `send`
/// function that queues a copy of a block for `consume` and returns false once `consume` has
/// failed (the producer should then stop). Returns what `produce` returned and the first
/// error of `consume`.
pub fn pipelined<E: Send, R>(
    mut consume: impl FnMut(&[f64], &[f64]) -> Result<(), E> + Send,
    produce: impl FnOnce(BlockSend<'_>) -> R,
) -> (R, Result<(), E>) {
    pipelined_with_front(
        |_: &[f64], _: &[f64], _: &mut [f64], _: &mut [f64]| {},
        |l: &[f64], r: &[f64], _: &[f64], _: &[f64]| consume(l, r),
        produce,
    )
}

/// As [`pipelined`], with a `front` that runs on the producer's thread for every block sent:
/// it fills two per-frame vectors (`a`, `b`, one value per frame) that travel with the block
/// to `consume`. For a consumer that is the slower stage, part of its work moves to the
/// producer's thread (the limited-loudness estimate's detection).
pub fn pipelined_with_front<E: Send, R>(
    mut front: impl FnMut(&[f64], &[f64], &mut [f64], &mut [f64]) + Send,
    mut consume: impl FnMut(&[f64], &[f64], &[f64], &[f64]) -> Result<(), E> + Send,
    produce: impl FnOnce(BlockSend<'_>) -> R,
) -> (R, Result<(), E>) {
    type Message = [Vec<f64>; 4];
    let (to_consumer, from_producer) = sync_channel::<Message>(DEPTH);
    let (recycle, recycled) = channel::<Message>();
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || -> Result<(), E> {
            for m in from_producer {
                consume(&m[0], &m[1], &m[2], &m[3])?;
                let _ = recycle.send(m);
            }
            Ok(())
        });
        let mut send = move |l: &[f64], r: &[f64]| -> bool {
            let mut m: Message = recycled.try_recv().unwrap_or_default();
            m[0].clear();
            m[1].clear();
            m[0].extend_from_slice(l);
            m[1].extend_from_slice(r);
            m[2].resize(l.len(), 0.0);
            m[3].resize(l.len(), 0.0);
            let [_, _, a, b] = &mut m;
            front(l, r, a, b);
            to_consumer.send(m).is_ok()
        };
        let produced = produce(&mut send);
        // Closing the channel ends the consumer's loop.
        drop(send);
        let consumed = consumer.join().expect("the consumer thread does not panic");
        (produced, consumed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_arrives_in_order_and_errors_stop_the_producer() {
        let mut seen = Vec::new();
        let (sent, res) = pipelined(
            |l: &[f64], r: &[f64]| -> Result<(), ()> {
                seen.extend(l.iter().zip(r).map(|(a, b)| a + b));
                Ok(())
            },
            |send| (0..100).all(|i| send(&[i as f64; 3], &[1.0; 3])),
        );
        assert!(sent && res.is_ok());
        let want: Vec<f64> = (0..100).flat_map(|i| [i as f64 + 1.0; 3]).collect();
        assert_eq!(seen, want);
        let (stopped_at, res) = pipelined(
            |l: &[f64], _: &[f64]| if l[0] >= 5.0 { Err("full") } else { Ok(()) },
            |send| (0..1000).position(|i| !send(&[i as f64], &[0.0])),
        );
        assert_eq!(res, Err("full"));
        assert!(stopped_at.is_some());
    }
}

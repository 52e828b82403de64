//! Overlapping analysis frames cut from a stream, without copying the overlap.
//!
//! A spectrum meter looks at the last `frame_len` samples of every channel each `hop` samples.
//! Shifting the overlap out of a buffer costs a `memmove` per frame; a ring instead keeps each
//! channel's last `frame_len` samples in place, and a frame in time order is two segments of
//! it: from the write position to the end (the older samples), then from the start to the
//! write position.

/// Every channel's last `frame_len` samples, and how many of them belong to the next frame.
#[derive(Clone, Debug)]
pub struct FrameRing {
    rings: Vec<Vec<f64>>,
    hop: usize,
    /// Where the next sample goes; the oldest sample sits here once the ring is full.
    write: usize,
    /// Samples in the ring that belong to the next frame.
    filled: usize,
}

impl FrameRing {
    /// Rings of `frame_len` samples for `channels` channels, a frame every `hop` samples
    /// (`hop ≤ frame_len`).
    pub fn new(channels: usize, frame_len: usize, hop: usize) -> Self {
        assert!(hop > 0 && hop <= frame_len, "hop within the frame");
        Self {
            rings: vec![vec![0.0; frame_len]; channels],
            hop,
            write: 0,
            filled: 0,
        }
    }

    /// Copies samples of the planar block `channels` from `*at` on until a frame is complete
    /// (returns `true`: read it with [`FrameRing::segments`], then call again) or the block is
    /// used up (returns `false`). The hop is dropped at the call after a complete frame.
    pub fn fill(&mut self, channels: &[&[f64]], at: &mut usize) -> bool {
        assert_eq!(channels.len(), self.rings.len(), "one slice per channel");
        let len = channels.first().map_or(0, |c| c.len());
        let frame_len = self.frame_len();
        if self.filled == frame_len {
            self.filled -= self.hop;
        }
        while *at < len {
            let take = (frame_len - self.filled)
                .min(frame_len - self.write)
                .min(len - *at);
            for (ring, x) in self.rings.iter_mut().zip(channels) {
                ring[self.write..self.write + take].copy_from_slice(&x[*at..*at + take]);
            }
            self.write = (self.write + take) % frame_len;
            self.filled += take;
            *at += take;
            if self.filled == frame_len {
                return true;
            }
        }
        false
    }

    /// Channel `channel`'s frame in time order as two segments (older, newer).
    pub fn segments(&self, channel: usize) -> (&[f64], &[f64]) {
        let (newer, older) = self.rings[channel].split_at(self.write);
        (older, newer)
    }

    /// Length of the first (older) segment of every channel's frame.
    pub fn older_len(&self) -> usize {
        self.frame_len() - self.write
    }

    /// Channel `channel`'s ring as stored (for sums, where the order does not matter).
    pub fn stored(&self, channel: usize) -> &[f64] {
        &self.rings[channel]
    }

    /// Samples waiting for the next frame.
    pub fn filled(&self) -> usize {
        self.filled
    }

    pub fn frame_len(&self) -> usize {
        self.rings.first().map_or(0, |r| r.len())
    }

    pub fn channels(&self) -> usize {
        self.rings.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame the ring hands out equals the slice of the stream it stands for, however
    /// the stream is cut into blocks, and frames come every `hop` samples.
    #[test]
    fn frames_equal_the_streams_slices() {
        let (frame_len, hop) = (16, 6);
        let stream: Vec<[f64; 2]> = (0..200).map(|i| [i as f64, -(i as f64)]).collect();
        for block in [1, 5, 16, 37, 200] {
            let mut ring = FrameRing::new(2, frame_len, hop);
            let mut frames = Vec::new();
            for part in stream.chunks(block) {
                let l: Vec<f64> = part.iter().map(|s| s[0]).collect();
                let r: Vec<f64> = part.iter().map(|s| s[1]).collect();
                let mut at = 0;
                while ring.fill(&[&l, &r], &mut at) {
                    let mut frame = Vec::new();
                    for ch in 0..2 {
                        let (a, b) = ring.segments(ch);
                        assert_eq!(a.len(), ring.older_len());
                        frame.push([a, b].concat());
                    }
                    frames.push(frame);
                }
            }
            let expected = (stream.len() - frame_len) / hop + 1;
            assert_eq!(frames.len(), expected, "block {block}");
            for (n, frame) in frames.iter().enumerate() {
                let start = n * hop;
                let want: Vec<f64> = (start..start + frame_len).map(|i| i as f64).collect();
                assert_eq!(frame[0], want, "block {block} frame {n}");
                let neg: Vec<f64> = want.iter().map(|x| -x).collect();
                assert_eq!(frame[1], neg);
            }
            assert_eq!(
                ring.filled(),
                frame_len - hop + (stream.len() - frame_len) % hop
            );
        }
    }
}

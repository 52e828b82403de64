//! Excerpts spaced through a cached bus, played as one stream: what a quick check of the real
//! stages after the gain reads instead of the whole bus (`master/clip_check.rs`). Each excerpt
//! fades in and out over a few milliseconds, so that the joins add no clicks for a clipper or
//! a limiter to react to.

use crate::render::block::Lane;
use crate::render::block_source::BlockSource;
use crate::render::bus_cache::{BusCache, BusCacheReader};
use crate::render::pass::RenderError;

/// Length of each excerpt's fade in and fade out, s.
const FADE_S: f64 = 0.01;

/// The excerpts `[start, end)` (frames) of one cached bus.
pub struct CacheExcerpts {
    reader: BusCacheReader,
    spans: Vec<(u64, u64)>,
    /// The excerpt being read, and the frame within it.
    span: usize,
    at: u64,
    fade_frames: u64,
}

impl CacheExcerpts {
    /// `count` excerpts of `len_s` seconds, evenly spaced through `cache` (centred in equal
    /// parts of it); `None` when the bus is too short for them to be a small part of it (then
    /// a check costs what a render does).
    pub fn spaced(
        cache: &BusCache,
        rate_hz: u32,
        count: u64,
        len_s: f64,
    ) -> std::io::Result<Option<Self>> {
        let len = (len_s * rate_hz as f64) as u64;
        let part = cache.frames() / count.max(1);
        if count == 0 || part < 4 * len {
            return Ok(None);
        }
        let spans = (0..count)
            .map(|k| {
                let start = k * part + (part - len) / 2;
                (start, start + len)
            })
            .collect();
        Ok(Some(Self {
            reader: cache.reader()?,
            spans,
            span: 0,
            at: 0,
            fade_frames: ((FADE_S * rate_hz as f64) as u64).max(1),
        }))
    }

    /// The same excerpts of `cache` again, from their start (a second reader).
    pub fn again(&self, cache: &BusCache) -> std::io::Result<Self> {
        Ok(Self {
            reader: cache.reader()?,
            spans: self.spans.clone(),
            span: 0,
            at: 0,
            fade_frames: self.fade_frames,
        })
    }

    /// The fade's gain at frame `i` of an excerpt of `len` frames.
    fn fade(&self, i: u64, len: u64) -> f64 {
        let edge = i.min(len - 1 - i);
        if edge >= self.fade_frames {
            return 1.0;
        }
        let t = (edge as f64 + 0.5) / self.fade_frames as f64;
        0.5 - 0.5 * (std::f64::consts::PI * t).cos()
    }
}

impl BlockSource for CacheExcerpts {
    fn read(&mut self, lanes: &mut [Lane], len: usize) -> Result<usize, RenderError> {
        let [l, r] = &mut lanes[0];
        let mut n = 0;
        while n < len {
            let Some(&(start, end)) = self.spans.get(self.span) else {
                break;
            };
            if self.at == 0 {
                self.reader.seek_to(start)?;
            }
            let want = ((end - start - self.at) as usize).min(len - n);
            let got = self
                .reader
                .read_into(&mut l[n..n + want], &mut r[n..n + want])?;
            for i in 0..got {
                let g = self.fade(self.at + i as u64, end - start);
                l[n + i] *= g;
                r[n + i] *= g;
            }
            n += got;
            self.at += got as u64;
            if got < want || self.at == end - start {
                self.span += 1;
                self.at = 0;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::bus_cache::BusCacheWriter;

    /// The excerpts are the cache's own frames at the planned places, faded only at their
    /// edges; a cache too short for them gives none.
    #[test]
    fn excerpts_are_the_cached_frames_where_planned() {
        let dir = tempfile::tempdir().unwrap();
        let rate = 1000;
        let frames = 120_000u64;
        let mut w = BusCacheWriter::create(&dir.path().join("bus.f32")).unwrap();
        let l: Vec<f64> = (0..frames).map(|i| i as f64).collect();
        let r: Vec<f64> = (0..frames).map(|i| -(i as f64)).collect();
        w.write(&l, &r).unwrap();
        let cache = w.finish().unwrap();
        let mut ex = CacheExcerpts::spaced(&cache, rate, 4, 2.0)
            .unwrap()
            .unwrap();
        let mut lanes: Vec<Lane> = vec![[vec![0.0; 700], vec![0.0; 700]]];
        let mut got = Vec::new();
        loop {
            let n = ex.read(&mut lanes, 700).unwrap();
            if n == 0 {
                break;
            }
            got.extend(
                lanes[0][0][..n]
                    .iter()
                    .zip(&lanes[0][1][..n])
                    .map(|(a, b)| (*a, *b)),
            );
        }
        // Four excerpts of 2000 frames, centred in quarters of 30000 frames.
        assert_eq!(got.len(), 4 * 2000);
        for k in 0..4u64 {
            let start = k * 30_000 + 14_000;
            for i in 0..2000u64 {
                let (a, b) = got[(k * 2000 + i) as usize];
                let edge = i.min(1999 - i);
                let want = (start + i) as f64;
                if edge >= 10 {
                    assert_eq!((a, b), (want, -want), "excerpt {k} frame {i}");
                } else {
                    assert!(a < want && a > 0.0 && b == -a, "excerpt {k} frame {i}: {a}");
                }
            }
        }
        assert!(CacheExcerpts::spaced(&cache, rate, 4, 10.0)
            .unwrap()
            .is_none());
    }
}

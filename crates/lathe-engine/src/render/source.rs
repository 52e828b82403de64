//! A streaming stereo source: decode, mono → two identical channels, resample to the session
//! rate. Memory is fixed by the block size.

use std::path::Path;

use lathe_io::{DecodeError, Decoder, StreamResampler};

use crate::spec::stem::NonFinite;

/// Why an input cannot be used for mastering.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{path}: lathe masters mono or stereo files; this one has {channels} channels")]
    Channels { path: String, channels: usize },
    #[error("{path}: {why}")]
    Resample { path: String, why: String },
    #[error(
        "{path}: holds NaN or infinite samples (the first at frame {frame}); lathe refuses such a \
         file unless told to read them as silence (--non-finite silence, or the stem's \
         non_finite = \"silence\")"
    )]
    NonFinite { path: String, frame: u64 },
}

pub struct StereoSource {
    decoder: Decoder,
    resampler: Option<StreamResampler>,
    /// Converted frames not yet handed out.
    pending: [Vec<f64>; 2],
    pending_pos: usize,
    ended: bool,
    non_finite: NonFinite,
    path: String,
    pub input_rate_hz: u32,
}

impl StereoSource {
    pub fn open(path: &Path, rate_hz: u32, non_finite: NonFinite) -> Result<Self, SourceError> {
        let decoder = Decoder::open(path)?;
        let info = decoder.info().clone();
        if info.channels > 2 {
            return Err(SourceError::Channels {
                path: path.display().to_string(),
                channels: info.channels,
            });
        }
        let resampler = if info.sample_rate_hz != rate_hz {
            Some(
                StreamResampler::new(info.sample_rate_hz, rate_hz, 2).map_err(|e| {
                    SourceError::Resample {
                        path: path.display().to_string(),
                        why: e.to_string(),
                    }
                })?,
            )
        } else {
            None
        };
        Ok(Self {
            decoder,
            resampler,
            pending: [Vec::new(), Vec::new()],
            pending_pos: 0,
            ended: false,
            non_finite,
            path: path.display().to_string(),
            input_rate_hz: info.sample_rate_hz,
        })
    }

    /// Warnings from the decoder (truncation, skipped packets), valid after the end.
    pub fn warnings(&self) -> Vec<String> {
        self.decoder.warnings()
    }

    fn refill(&mut self) -> Result<(), SourceError> {
        for p in &mut self.pending {
            p.drain(..self.pending_pos);
        }
        self.pending_pos = 0;
        while self.pending[0].is_empty() && !self.ended {
            match self.decoder.next_block()? {
                Some(block) => {
                    let stereo: [&[f64]; 2] = if block.len() == 1 {
                        [block[0], block[0]]
                    } else {
                        [block[0], block[1]]
                    };
                    match &mut self.resampler {
                        Some(r) => r.process(&stereo, &mut self.pending),
                        None => {
                            self.pending[0].extend_from_slice(stereo[0]);
                            self.pending[1].extend_from_slice(stereo[1]);
                        }
                    }
                }
                None => {
                    self.ended = true;
                    if let Some(r) = &mut self.resampler {
                        r.finish(&mut self.pending);
                    }
                }
            }
            if let (NonFinite::Refuse, (_, Some(frame))) =
                (self.non_finite, self.decoder.non_finite_samples())
            {
                return Err(SourceError::NonFinite {
                    path: self.path.clone(),
                    frame,
                });
            }
        }
        Ok(())
    }

    /// Fills `l` and `r` (equal lengths) from the start; returns the frames written, 0 at the end.
    pub fn read(&mut self, l: &mut [f64], r: &mut [f64]) -> Result<usize, SourceError> {
        let mut written = 0;
        while written < l.len() {
            if self.pending_pos >= self.pending[0].len() {
                self.refill()?;
                if self.pending[0].is_empty() {
                    break;
                }
            }
            let n = (self.pending[0].len() - self.pending_pos).min(l.len() - written);
            let range = self.pending_pos..self.pending_pos + n;
            l[written..written + n].copy_from_slice(&self.pending[0][range.clone()]);
            r[written..written + n].copy_from_slice(&self.pending[1][range]);
            self.pending_pos += n;
            written += n;
        }
        Ok(written)
    }
}

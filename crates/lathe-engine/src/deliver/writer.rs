//! Deliverables written while rendering (the lossless formats, and the float bus copies the
//! lossy encoders read): dithered and quantised for the format, handed to its
//! [`lathe_io::Encoder`] under a temporary name, tagged, and renamed when complete.

use std::path::{Path, PathBuf};

use lathe_dsp::dither::Quantizer;
use lathe_dsp::lanes::LaneProcessor;
use lathe_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_io::encoder::{self, Encoder, EncoderSettings, HeaderTags, Input};
use lathe_io::{Format, StreamResampler};

use crate::spec::deliver::{DeliverSpec, Tags};

/// A deliverable being written under `<final>.part`.
pub struct FileWriter {
    encoder: Box<dyn Encoder>,
    quantizers: Option<[Quantizer; 2]>,
    bits: u32,
    part: PathBuf,
    path: PathBuf,
    ints: [Vec<i32>; 2],
    format: Format,
    tags: Tags,
}

/// The seed of the dither generator (reported, so a render can be reproduced bit for bit).
pub const DITHER_SEED: u64 = 0x1A7E;

fn io<E: std::fmt::Display>(e: E) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A complete file under its temporary name, not yet known to be on disk. Reading it (the
/// verification) can start at once, while [`Unsynced::sync`] waits for the disk; then
/// [`Unsynced::rename`]. Dropped uncommitted (an error on the way), it is removed.
#[must_use = "the file keeps its temporary name until it is committed"]
#[derive(Debug)]
pub struct Unsynced {
    /// Empty once committed.
    part: PathBuf,
    path: PathBuf,
}

impl Unsynced {
    /// Where the file with the final name `path` is now: its temporary name if it is among
    /// `files`, else `path` itself.
    pub fn where_now<'a>(files: &'a [Unsynced], path: &'a Path) -> &'a Path {
        files
            .iter()
            .find(|f| f.path() == path)
            .map_or(path, |f| f.part())
    }

    /// Where the complete file is now.
    pub fn part(&self) -> &Path {
        &self.part
    }

    /// Its final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the file's data through to the disk, then renames it to its final name: the
    /// final name never shows a file that a crash could leave incomplete.
    pub fn commit(self) -> std::io::Result<PathBuf> {
        self.sync()?;
        self.rename()
    }

    /// Writes the file's data through to the disk (the file stays readable meanwhile).
    pub fn sync(&self) -> std::io::Result<()> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.part)?
            .sync_data()
    }

    /// Gives the file its final name (after [`Unsynced::sync`]).
    pub fn rename(mut self) -> std::io::Result<PathBuf> {
        let part = std::mem::take(&mut self.part);
        std::fs::rename(&part, &self.path)?;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for Unsynced {
    /// Dropped uncommitted, the render failed on the way: the file was never verified, so it
    /// never gets its final name.
    fn drop(&mut self) {
        if !self.part.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

impl FileWriter {
    pub fn create(
        path: &Path,
        spec: &DeliverSpec,
        rate_hz: u32,
        tags: &Tags,
    ) -> std::io::Result<Self> {
        let part = path.with_extension(format!("{}.part", spec.format));
        let header = tags.header_tags(spec.format)?;
        let encoder = encoder::open_with_header(
            &part,
            EncoderSettings {
                format: spec.format,
                sample_rate_hz: rate_hz,
                bits: spec.bits,
                bitrate_kbps: spec.bitrate_kbps,
            },
            &header,
        )?;
        // Integer formats are dithered here; float ones (32-bit WAV, the lossy encoders'
        // input) get the samples as they are.
        let quantizers = matches!(encoder.input(), Input::Int { .. }).then(|| {
            [
                Quantizer::new(spec.bits, spec.dither, DITHER_SEED),
                Quantizer::new(spec.bits, spec.dither, DITHER_SEED ^ 0x5555),
            ]
        });
        Ok(Self {
            encoder,
            quantizers,
            bits: spec.bits,
            part,
            path: path.to_owned(),
            ints: [Vec::new(), Vec::new()],
            format: spec.format,
            tags: tags.clone(),
        })
    }

    pub fn write(&mut self, l: &[f64], r: &[f64]) -> std::io::Result<()> {
        // The last guard before a file (and, through the bus copies, LAME): inputs are
        // sanitised at the decoder and gains are bounded, so this never fires on a correct
        // chain; if it does, the render fails instead of delivering noise or aborting.
        if !l.iter().chain(r).all(|v| v.is_finite()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: non-finite samples reached the writer (an internal error of lathe)",
                    self.path.display()
                ),
            ));
        }
        let Some([ql, qr]) = &mut self.quantizers else {
            return self.encoder.write_float(l, r);
        };
        let [il, ir] = &mut self.ints;
        il.resize(l.len(), 0);
        ir.resize(l.len(), 0);
        if ql.is_shaped() {
            // Both channels in one loop: their error-feedback chains then overlap.
            let scale = 2f64.powi(self.bits as i32 - 1);
            for (((&a, &b), x), y) in l.iter().zip(r).zip(il.iter_mut()).zip(ir.iter_mut()) {
                *x = (ql.tick(a) * scale) as i32;
                *y = (qr.tick(b) * scale) as i32;
            }
        } else {
            ql.quantize_block(l, il);
            qr.quantize_block(r, ir);
        }
        self.encoder.write_int(il, ir)
    }

    /// Finishes the file, makes it durable and renames it to its final name.
    pub fn finish(self) -> std::io::Result<PathBuf> {
        self.finish_unsynced()?.commit()
    }

    /// Finishes the file (complete and tagged) under its temporary name; [`Unsynced::commit`]
    /// makes it durable and renames it.
    pub fn finish_unsynced(self) -> std::io::Result<Unsynced> {
        self.encoder.finish()?;
        self.tags.write_into(&self.part, self.format)?;
        Ok(Unsynced {
            part: self.part,
            path: self.path,
        })
    }

    /// Abandons the file (removes the partial file).
    pub fn discard(self) {
        drop(self.encoder);
        let _ = std::fs::remove_file(&self.part);
    }
}

/// A deliverable made from the master bus: resampled when its rate differs from the session's,
/// then — because resampling can create new inter-sample peaks — a true-peak safety limiter at
/// the delivery rate (when there is a ceiling), then dither and the encoder ([`FileWriter`]).
/// At the session rate the bus goes straight to the writer: the master limiter already holds
/// the ceiling there. A lossy file encoded during the render has the safety limiter at any
/// rate, under the ceiling by its codec's headroom ([`DeliverSpec::codec_headroom_db`]).
///
/// With locked versions, one `Delivery` writes the same format for every lane (the main master
/// and each version, one file each): the safety stage is then one limiter over all lanes
/// ([`lathe_dsp::lanes`]), so whatever it does, it does to every version alike and they still
/// line up with the main master.
pub struct Delivery {
    lanes: Vec<LaneOut>,
    safety: Option<SafetyStage>,
}

/// One lane's resampler, its output and its file.
struct LaneOut {
    resampler: Option<StreamResampler>,
    writer: FileWriter,
    out: [Vec<f64>; 2],
}

/// The safety limiter and its delay compensation.
struct SafetyStage {
    limiter: TruePeakLimiter,
    /// Output frames still to drop (the limiter's latency).
    to_drop: usize,
    min_gain: f64,
}

impl Delivery {
    /// `paths`: one file per lane. `ceiling_dbtp`: the ceiling the safety stage holds after
    /// resampling (`None`: no target).
    pub fn create(
        paths: &[PathBuf],
        spec: &DeliverSpec,
        session_rate_hz: u32,
        ceiling_dbtp: Option<f64>,
        tags: &Tags,
    ) -> std::io::Result<Self> {
        let rate = spec.sample_rate_hz.unwrap_or(session_rate_hz);
        let resampled = rate != session_rate_hz;
        let mut lanes = Vec::new();
        for path in paths {
            let resampler = resampled
                .then(|| StreamResampler::new(session_rate_hz, rate, 2).map_err(io))
                .transpose()?;
            let writer = match FileWriter::create(path, spec, rate, tags) {
                Ok(w) => w,
                Err(e) => {
                    lanes.into_iter().for_each(|l: LaneOut| l.writer.discard());
                    return Err(e);
                }
            };
            lanes.push(LaneOut {
                resampler,
                writer,
                out: [Vec::new(), Vec::new()],
            });
        }
        // Resampling makes new inter-sample peaks; a lossy file encoded in the render needs
        // room for its codec's.
        let safety_ceiling = match spec.codec_headroom_db() {
            Some(room) => ceiling_dbtp.map(|c| c - room),
            None => ceiling_dbtp.filter(|_| resampled),
        };
        let safety = safety_ceiling.map(|ceiling_dbtp| {
            let mut limiter = TruePeakLimiter::new(LimiterSettings {
                ceiling_dbtp,
                ..LimiterSettings::default()
            });
            limiter.prepare_lanes(rate as f64, 4096, paths.len());
            SafetyStage {
                to_drop: Processor::latency_samples(&limiter),
                limiter,
                min_gain: 1.0,
            }
        });
        Ok(Self { lanes, safety })
    }

    /// Writes the next block of lane `lane`. Every lane's block of the same frames must come
    /// in lane order before the next block.
    pub fn write(&mut self, lane: usize, l: &[f64], r: &[f64]) -> std::io::Result<()> {
        let lo = &mut self.lanes[lane];
        if lo.resampler.is_none() && self.safety.is_none() {
            return lo.writer.write(l, r);
        }
        for o in &mut lo.out {
            o.clear();
        }
        match &mut lo.resampler {
            Some(rs) => rs.process(&[l, r], &mut lo.out),
            None => {
                lo.out[0].extend_from_slice(l);
                lo.out[1].extend_from_slice(r);
            }
        }
        if lane + 1 == self.lanes.len() {
            self.limit_and_write()?;
        }
        Ok(())
    }

    /// Runs the safety stage over every lane's `out` (all of one length) and writes what it
    /// releases.
    fn limit_and_write(&mut self) -> std::io::Result<()> {
        let len = self.lanes[0].out[0].len();
        debug_assert!(self.lanes.iter().all(|l| l.out[0].len() == len));
        let mut start = 0;
        if let Some(s) = &mut self.safety {
            let mut blocks: Vec<StereoBlock> = self
                .lanes
                .iter_mut()
                .map(|l| {
                    let [a, b] = &mut l.out;
                    StereoBlock {
                        left: &mut a[..],
                        right: &mut b[..],
                    }
                })
                .collect();
            s.limiter.process_lanes(&mut blocks);
            s.min_gain = s.min_gain.min(s.limiter.take_min_gain());
            start = s.to_drop.min(len);
            s.to_drop -= start;
        }
        for l in &mut self.lanes {
            let [a, b] = &l.out;
            l.writer.write(&a[start..], &b[start..])?;
        }
        Ok(())
    }

    /// Flushes the resamplers and the safety stage, finishes every file and commits it
    /// ([`Unsynced::commit`]). Returns the safety stage's deepest gain reduction, dB (0 when
    /// it did not act or does not exist).
    pub fn finish(self) -> std::io::Result<f64> {
        let (db, files) = self.finish_unsynced()?;
        for f in files {
            f.commit()?;
        }
        Ok(db)
    }

    /// As [`Delivery::finish`], leaving the files under their temporary names, one per lane.
    pub fn finish_unsynced(mut self) -> std::io::Result<(f64, Vec<Unsynced>)> {
        if self.lanes[0].resampler.is_some() || self.safety.is_some() {
            let tail = self
                .safety
                .as_ref()
                .map_or(0, |s| Processor::latency_samples(&s.limiter));
            for lo in &mut self.lanes {
                for o in &mut lo.out {
                    o.clear();
                }
                if let Some(rs) = &mut lo.resampler {
                    rs.finish(&mut lo.out);
                }
                for o in &mut lo.out {
                    o.resize(o.len() + tail, 0.0);
                }
            }
            self.limit_and_write()?;
        }
        let files = self
            .lanes
            .into_iter()
            .map(|lo| lo.writer.finish_unsynced())
            .collect::<std::io::Result<_>>()?;
        let db = self
            .safety
            .map_or(0.0, |s| -lathe_dsp::lin_to_db(s.min_gain));
        Ok((db, files))
    }

    pub fn discard(self) {
        for lo in self.lanes {
            lo.writer.discard();
        }
    }
}

impl Tags {
    /// The tags `format`'s encoder writes into the file as it makes it: an MP3's ID3v2 tag
    /// (TIT2, TPE1, TSRC, made by lofty) before the audio; FLAC's and Opus's Vorbis comments
    /// (TITLE, ARTIST, ISRC) in their headers; AAC's iTunes items (`©nam`, `©ART`, and ISRC
    /// as `----:com.apple.iTunes:ISRC`) in the movie box. [`Tags::write_into`] does WAV's.
    pub fn header_tags(&self, format: Format) -> std::io::Result<HeaderTags> {
        use lofty::config::WriteOptions;
        use lofty::tag::{TagExt, TagType};
        let mut tags = HeaderTags::default();
        if self.is_empty() {
            return Ok(tags);
        }
        match format {
            Format::Mp3 => self
                .lofty_tag(TagType::Id3v2)
                .dump_to(&mut tags.id3v2, WriteOptions::default())
                .map_err(|e| io(format!("cannot make the MP3's tags: {e}")))?,
            Format::Flac | Format::Opus | Format::Aac => {
                let fields = [
                    ("TITLE", &self.title),
                    ("ARTIST", &self.artist),
                    ("ISRC", &self.isrc),
                ];
                tags.comments = fields
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_string(), v.clone()?)))
                    .collect();
            }
            Format::Wav => {}
        }
        Ok(tags)
    }

    /// The tags as lofty's tag of `kind`.
    fn lofty_tag(&self, kind: lofty::tag::TagType) -> lofty::tag::Tag {
        use lofty::tag::{Accessor, ItemKey, Tag, TagType};
        let mut tag = Tag::new(kind);
        if let Some(t) = &self.title {
            tag.set_title(t.clone());
        }
        if let Some(a) = &self.artist {
            tag.set_artist(a.clone());
        }
        if let Some(i) = &self.isrc {
            // RIFF INFO has no ISRC field (its "ISRC" chunk means "source").
            if kind != TagType::RiffInfo {
                tag.insert_text(ItemKey::Isrc, i.clone());
            }
        }
        tag
    }

    /// Writes the tags into the WAV at `path`: ID3v2 (TIT2, TPE1, TSRC) and RIFF INFO (INAM,
    /// IART) chunks appended after the audio. The other formats carry them from the start
    /// ([`Tags::header_tags`]).
    pub fn write_into(&self, path: &Path, format: Format) -> std::io::Result<()> {
        use lofty::config::WriteOptions;
        use lofty::tag::{TagExt, TagType};
        if self.is_empty() || format != Format::Wav {
            return Ok(());
        }
        // lofty makes the chunks' bytes (its own writer would read the whole file into
        // memory); they are appended after the audio in place.
        let bytes = |kind: TagType| -> std::io::Result<Vec<u8>> {
            let mut b = Vec::new();
            self.lofty_tag(kind)
                .dump_to(&mut b, WriteOptions::default())
                .map_err(|e| io(format!("{}: cannot write tags: {e}", path.display())))?;
            Ok(b)
        };
        let mut chunks = lathe_io::wav_tags::chunk(b"ID3 ", &bytes(TagType::Id3v2)?);
        // lofty's RIFF INFO comes as a whole LIST chunk (none when only the ISRC is set, which
        // INFO cannot hold); its body follows the 8-byte header.
        let info = bytes(TagType::RiffInfo)?;
        if let Some(body) = info.get(8..).filter(|b| !b.is_empty()) {
            chunks.extend(lathe_io::wav_tags::chunk(b"LIST", body));
        }
        lathe_io::wav_tags::append_chunks(path, &chunks)
    }
}

//! DDP 2.0 images of an album's CD (written by `lathe album`, read back by `lathe ddp verify`).
//!
//! A DDP image is a folder:
//! - `DDPID`: 128 bytes: `DDP 2.00`, the UPC/EAN, the map stream's length, the master ID;
//! - `DDPMS`: one 128-byte `VVVM` packet per stream: the audio image (`IMAGE.DAT`, type `D0`,
//!   CD-DA), the PQ descriptor (`PQDESCR`, `S0`) and the CD-Text packs (`CDTEXT.BIN`, `T0`),
//!   each with its length;
//! - `PQDESCR`: one 64-byte `VVVS` entry per index point (track, index, absolute time as
//!   HH:MM:SS:FF from the image start, control, ISRC, and the UPC on the first), and the
//!   lead-out (`AA`);
//! - `CDTEXT.BIN`: CD-Text packs (18 bytes each: type, track, sequence, position, 12 text
//!   bytes, CRC-16/CCITT inverted) for TITLE (0x80) and PERFORMER (0x81) of the album (track 0)
//!   and every track, and the size information (0x8F);
//! - `IMAGE.DAT`: the 16-bit little-endian interleaved stereo audio, from track 1's INDEX 00;
//! - `CHECKSUM.MD5`: the MD5 of every other file, in `md5sum` format (so `md5sum -c` checks it
//!   too).
//!
//! The field layout follows the DDP 2.00 tables as they are commonly documented (the
//! specification itself is DCA's and not freely available): lathe's reader checks what its
//! writer wrote, and no plant or commercial DDP verifier has read these images yet.

use std::io::Write;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::album::cd::{CdLayout, FRAMES_PER_S, FRAME_SAMPLES};

const DDPID: &str = "DDPID";
const DDPMS: &str = "DDPMS";
const PQ: &str = "PQDESCR";
const TEXT: &str = "CDTEXT.BIN";
const IMAGE: &str = "IMAGE.DAT";
const SUMS: &str = "CHECKSUM.MD5";

/// Bytes per CD sector of audio (588 stereo 16-bit frames).
const SECTOR_BYTES: u64 = FRAME_SAMPLES * 4;

/// `text` left-justified in `width` bytes, padded with spaces (longer text is cut).
fn field(text: &str, width: usize) -> Vec<u8> {
    let mut b: Vec<u8> = text.bytes().filter(|c| c.is_ascii()).take(width).collect();
    b.resize(width, b' ');
    b
}

/// A number right-justified with zeros in `width` bytes.
fn num(v: u64, width: usize) -> Vec<u8> {
    format!("{v:0width$}").into_bytes()
}

fn ddpid(upc: Option<&str>, ms_len: u64, title: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend(field("DDP 2.00", 8)); // DDPID: level
    b.extend(field(upc.unwrap_or(""), 14)); // UPC/EAN
    b.extend(field("", 8)); // MSS: map stream start (files: none)
    b.extend(num(ms_len, 8)); // MSL: map stream length, bytes
    b.extend(field("0", 1)); // MED: media number
    b.extend(field(title, 48)); // MID: master ID
    b.extend(field("", 1)); // BK
    b.extend(field("CD", 2)); // TYPE
    b.extend(field("", 48)); // reserved
    b.resize(128, b' ');
    b
}

/// One DDPMS packet: stream type, its length in bytes and sectors, its file.
fn ms_packet(kind: &str, bytes: u64, start_sector: u64, sub: &str, file: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend(field("VVVM", 4)); // MPV
    b.extend(field(kind, 2)); // DST: D0 main data, S0 subcode descriptor, T0 text
    b.extend(num(start_sector, 8)); // DSP: start sector of the stream on the disc
    b.extend(num(bytes, 8)); // DSL: length, bytes
    b.extend(num(bytes.div_ceil(SECTOR_BYTES), 8)); // DSS: length, sectors
    b.extend(field(sub, 8)); // SUB: subcode descriptor
    b.extend(field(if kind == "D0" { "DA" } else { "" }, 2)); // CDM: CD mode (digital audio)
    b.extend(field("0", 1)); // SSM
    b.extend(field("0", 1)); // SCR: not scrambled
    b.extend(field("", 16)); // PRE1, PRE2, PST, MED …
    b.extend(field(file, 17)); // DSI: the stream's file
    b.resize(128, b' ');
    b
}

/// One PQ descriptor entry at `frames` from the image start.
fn pq_entry(
    track: &str,
    index: u32,
    frames: u64,
    isrc: Option<&str>,
    upc: Option<&str>,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend(field("VVVS", 4)); // SPV
    b.extend(field(track, 2)); // TRK: 01–99, AA = lead-out
    b.extend(num(index as u64, 2)); // IDX
    let secs = frames / FRAMES_PER_S;
    b.extend(num(secs / 3600, 2)); // HRS
    b.extend(num((secs / 60) % 60, 2)); // MIN
    b.extend(num(secs % 60, 2)); // SEC
    b.extend(num(frames % FRAMES_PER_S, 2)); // FRM
    b.extend(field("00", 2)); // CTO: 2-channel audio, no pre-emphasis, copy prohibited
    b.extend(field(isrc.unwrap_or(""), 12)); // ISRC
    b.extend(field(upc.unwrap_or(""), 13)); // UPC/EAN
    b.resize(64, b' ');
    b
}

/// CRC-16/CCITT (x¹⁶ + x¹² + x⁵ + 1, initial 0) of a CD-Text pack's first 16 bytes, inverted.
fn cdtext_crc(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    !crc
}

/// CD-Text packs of one type: the strings of track 0 (album), 1, 2 … each ending in NUL,
/// cut into 12-byte packs. `seq` numbers the packs across types.
fn text_packs(kind: u8, strings: &[String], seq: &mut u8, out: &mut Vec<u8>) -> usize {
    let mut bytes = Vec::new();
    // Per byte: the track it belongs to and its position within that track's string.
    let mut owner = Vec::new();
    for (track, s) in strings.iter().enumerate() {
        for (pos, c) in s
            .bytes()
            .filter(|c| c.is_ascii())
            .chain(std::iter::once(0))
            .enumerate()
        {
            bytes.push(c);
            owner.push((track as u8, pos));
        }
    }
    let mut packs = 0;
    for (chunk, own) in bytes.chunks(12).zip(owner.chunks(12)) {
        let (track, pos) = own[0];
        let mut p = vec![kind, track, *seq, pos.min(15) as u8];
        p.extend_from_slice(chunk);
        p.resize(16, 0);
        let crc = cdtext_crc(&p);
        p.extend_from_slice(&crc.to_be_bytes());
        out.extend(p);
        *seq = seq.wrapping_add(1);
        packs += 1;
    }
    packs
}

fn cdtext(layout: &CdLayout, title: &str, artist: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 0u8;
    let titles: Vec<String> = std::iter::once(title.to_string())
        .chain(layout.tracks.iter().map(|t| t.title.clone()))
        .collect();
    let performers: Vec<String> = std::iter::once(artist.unwrap_or("").to_string())
        .chain(layout.tracks.iter().map(|t| {
            t.performer
                .clone()
                .or(artist.map(String::from))
                .unwrap_or_default()
        }))
        .collect();
    let n_title = text_packs(0x80, &titles, &mut seq, &mut out);
    let n_perf = text_packs(0x81, &performers, &mut seq, &mut out);
    // Size information: 3 packs (36 bytes): character code (0: ISO 8859-1), first and last
    // track, copyright flags, then packs per type 0x80…0x8F, last sequence numbers, languages.
    let mut info = [0u8; 36];
    info[1] = 1;
    info[2] = layout.tracks.len() as u8;
    info[4] = n_title as u8;
    info[5] = n_perf as u8;
    info[4 + 15] = 3;
    info[20] = seq.wrapping_add(2);
    info[28] = 0x09; // language of block 0: English
    for (k, chunk) in info.chunks(12).enumerate() {
        let mut p = vec![0x8F, k as u8, seq, 0];
        p.extend_from_slice(chunk);
        let crc = cdtext_crc(&p);
        p.extend_from_slice(&crc.to_be_bytes());
        out.extend(p);
        seq = seq.wrapping_add(1);
    }
    out
}

/// Writes the DDP image of `image_wav` (the 16-bit CD image) into the folder `dir`, replacing
/// it (written beside it under a temporary name, then renamed).
pub fn write_ddp(
    dir: &Path,
    image_wav: &Path,
    layout: &CdLayout,
    title: &str,
    artist: Option<&str>,
    upc: Option<&str>,
) -> std::io::Result<()> {
    let tmp = dir.with_extension("part");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    // The audio: the WAV's samples as they are (16-bit little-endian, interleaved).
    let mut reader = hound::WavReader::open(image_wav).map_err(std::io::Error::other)?;
    let mut img = std::io::BufWriter::new(std::fs::File::create(tmp.join(IMAGE))?);
    for s in reader.samples::<i16>() {
        img.write_all(&s.map_err(std::io::Error::other)?.to_le_bytes())?;
    }
    img.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let image_bytes = layout.total_frames * SECTOR_BYTES;
    // PQ: INDEX 00 (when there is a pregap) and 01 of every track, then the lead-out.
    let mut pq = Vec::new();
    for (i, t) in layout.tracks.iter().enumerate() {
        let trk = format!("{:02}", t.number);
        let upc_here = if i == 0 { upc } else { None };
        if t.index00_frames < t.index01_frames || i == 0 {
            pq.extend(pq_entry(
                &trk,
                0,
                t.index00_frames,
                t.isrc.as_deref(),
                upc_here,
            ));
        }
        pq.extend(pq_entry(
            &trk,
            1,
            t.index01_frames,
            t.isrc.as_deref(),
            upc_here,
        ));
    }
    pq.extend(pq_entry("AA", 1, layout.total_frames, None, None));
    std::fs::write(tmp.join(PQ), &pq)?;
    let text = cdtext(layout, title, artist);
    std::fs::write(tmp.join(TEXT), &text)?;
    let mut ms = Vec::new();
    ms.extend(ms_packet("D0", image_bytes, 0, "PQ DESCR", IMAGE));
    ms.extend(ms_packet("S0", pq.len() as u64, 0, "PQ DESCR", PQ));
    ms.extend(ms_packet("T0", text.len() as u64, 0, "CDTEXT", TEXT));
    std::fs::write(tmp.join(DDPMS), &ms)?;
    std::fs::write(tmp.join(DDPID), ddpid(upc, ms.len() as u64, title))?;
    let mut sums = String::new();
    for f in [DDPID, DDPMS, PQ, TEXT, IMAGE] {
        sums += &format!("{}  {f}\n", md5_hex(&tmp.join(f))?);
    }
    std::fs::write(tmp.join(SUMS), sums)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&tmp, dir)
}

fn md5_hex(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Md5::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A track as read back from a DDP image.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DdpTrack {
    pub number: u32,
    /// INDEX 01, frames from the image start, and as MM:SS:FF.
    pub start_frames: u64,
    pub start: String,
    /// To the next track's INDEX 01 (the last: to the lead-out), frames and MM:SS:FF.
    pub length_frames: u64,
    pub length: String,
    /// The pregap (INDEX 00 → 01), frames.
    pub pregap_frames: u64,
    pub isrc: Option<String>,
    pub title: Option<String>,
    pub performer: Option<String>,
}

/// What `lathe ddp verify` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DdpReport {
    pub level: String,
    pub upc: Option<String>,
    pub title: Option<String>,
    pub performer: Option<String>,
    pub tracks: Vec<DdpTrack>,
    pub total: String,
    /// Every file listed in `CHECKSUM.MD5`, with whether it matched.
    pub checksums: Vec<(String, bool)>,
    pub ok: bool,
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

fn parse_num(b: &[u8], what: &str) -> Result<u64, String> {
    text_of(b)
        .parse()
        .map_err(|_| format!("{what}: '{}' is not a number", text_of(b)))
}

/// CD-Text strings by pack type and track, from the packs (CRC-checked).
fn read_cdtext(data: &[u8]) -> Result<std::collections::HashMap<(u8, u8), String>, String> {
    let mut bytes: std::collections::BTreeMap<u8, Vec<(u8, u8)>> = Default::default();
    for (i, p) in data.chunks(18).enumerate() {
        if p.len() != 18 {
            return Err(format!("{TEXT}: a pack of {} bytes", p.len()));
        }
        let crc = u16::from_be_bytes([p[16], p[17]]);
        if cdtext_crc(&p[..16]) != crc {
            return Err(format!("{TEXT}: pack {i} fails its CRC"));
        }
        if p[0] == 0x8F {
            continue;
        }
        // Text bytes in order, each attributed to a track from the pack's first track on.
        let mut track = p[1];
        for &c in &p[4..16] {
            bytes.entry(p[0]).or_default().push((track, c));
            if c == 0 {
                track += 1;
            }
        }
    }
    let mut out = std::collections::HashMap::new();
    for (kind, seq) in bytes {
        for (track, c) in seq {
            if c != 0 {
                out.entry((kind, track))
                    .or_insert_with(String::new)
                    .push(c as char);
            }
        }
    }
    Ok(out)
}

/// The path of a file of the image named inside the image (in DDPMS or the checksum list):
/// a plain file name in the image's folder, never a path that leaves it.
fn member(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let plain =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(dir.join(name))
    } else {
        Err(format!(
            "the image names a file outside its folder: {name:?}"
        ))
    }
}

/// Reads a DDP image back: the track list, the checksums, and (with `extract`) each track as a
/// 16-bit WAV file in that folder (INDEX 01 to the next INDEX 01). A checksum mismatch makes
/// `ok` false; a malformed image is an error.
pub fn verify_ddp(dir: &Path, extract: Option<&Path>) -> Result<DdpReport, String> {
    let read = |f: &str| {
        let path = member(dir, f)?;
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    // Checksums first: everything after trusts the files.
    let sums = String::from_utf8_lossy(&read(SUMS)?).into_owned();
    let mut checksums = Vec::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (sum, file) = line
            .split_once("  ")
            .ok_or_else(|| format!("{SUMS}: malformed line '{line}'"))?;
        let got = md5_hex(&member(dir, file.trim())?).map_err(|e| format!("{file}: {e}"))?;
        checksums.push((file.trim().to_string(), got == sum.trim()));
    }
    let id = read(DDPID)?;
    if id.len() != 128 || !id.starts_with(b"DDP 2.") {
        return Err(format!("{DDPID}: not a DDP 2.x identifier"));
    }
    let level = text_of(&id[..8]);
    let upc = Some(text_of(&id[8..22])).filter(|s| !s.is_empty());
    let ms = read(DDPMS)?;
    if ms.len() % 128 != 0 {
        return Err(format!(
            "{DDPMS}: {} bytes is not a whole number of packets",
            ms.len()
        ));
    }
    let mut image_file = None;
    let mut pq_file = None;
    let mut text_file = None;
    let mut image_len = 0;
    for p in ms.chunks(128) {
        if &p[..4] != b"VVVM" {
            return Err(format!("{DDPMS}: a packet without VVVM"));
        }
        let file = text_of(&p[58..75]);
        match &p[4..6] {
            b"D0" => {
                image_len = parse_num(&p[14..22], "DDPMS DSL")?;
                image_file = Some(file);
            }
            b"S0" => pq_file = Some(file),
            b"T0" => text_file = Some(file),
            other => return Err(format!("{DDPMS}: unknown stream type {:?}", text_of(other))),
        }
    }
    let image_file = image_file.ok_or(format!("{DDPMS}: no audio stream (D0)"))?;
    let pq = read(&pq_file.ok_or(format!("{DDPMS}: no PQ descriptor (S0)"))?)?;
    let text = match &text_file {
        Some(f) => read_cdtext(&read(f)?)?,
        None => Default::default(),
    };
    let mut points: Vec<(String, u32, u64, Option<String>)> = Vec::new();
    for (i, e) in pq.chunks(64).enumerate() {
        if e.len() != 64 || &e[..4] != b"VVVS" {
            return Err(format!("{PQ}: entry {i} is not a VVVS entry"));
        }
        let n = |a: usize, w: &str| parse_num(&e[a..a + 2], w);
        let frames = ((n(8, "HRS")? * 60 + n(10, "MIN")?) * 60 + n(12, "SEC")?) * FRAMES_PER_S
            + n(14, "FRM")?;
        let isrc = Some(text_of(&e[18..30])).filter(|s| !s.is_empty());
        points.push((text_of(&e[4..6]), n(6, "IDX")? as u32, frames, isrc));
    }
    let lead_out = points
        .iter()
        .find(|p| p.0 == "AA")
        .map(|p| p.2)
        .ok_or(format!("{PQ}: no lead-out (AA)"))?;
    let mut tracks = Vec::new();
    let starts: Vec<&(String, u32, u64, Option<String>)> =
        points.iter().filter(|p| p.0 != "AA" && p.1 == 1).collect();
    for (k, p) in starts.iter().enumerate() {
        let number: u32 = p.0.parse().map_err(|_| format!("{PQ}: track '{}'", p.0))?;
        let next = starts.get(k + 1).map_or(lead_out, |n| n.2);
        let index00 = points
            .iter()
            .find(|q| q.0 == p.0 && q.1 == 0)
            .map_or(p.2, |q| q.2);
        // A damaged descriptor must not pass for a disc: index points in order, inside it.
        if !(index00 <= p.2 && p.2 < next && next <= lead_out) {
            return Err(format!(
                "{PQ}: track {number}'s index points are out of order or past the lead-out"
            ));
        }
        tracks.push(DdpTrack {
            number,
            start_frames: p.2,
            start: crate::album::cd::msf(p.2),
            length_frames: next - p.2,
            length: crate::album::cd::msf(next - p.2),
            pregap_frames: p.2 - index00,
            isrc: p.3.clone(),
            title: text.get(&(0x80, number as u8)).cloned(),
            performer: text.get(&(0x81, number as u8)).cloned(),
        });
    }
    let image = read(&image_file)?;
    if image.len() as u64 != image_len || image_len != lead_out * SECTOR_BYTES {
        return Err(format!(
            "{image_file}: {} bytes; the map says {image_len}, the lead-out {}",
            image.len(),
            lead_out * SECTOR_BYTES
        ));
    }
    if let Some(out) = extract {
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
        for t in &tracks {
            let path: PathBuf = out.join(format!("track{:02}.wav", t.number));
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: crate::album::cd::CD_RATE_HZ,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&path, spec).map_err(|e| e.to_string())?;
            let a = (t.start_frames * SECTOR_BYTES) as usize;
            let b = ((t.start_frames + t.length_frames) * SECTOR_BYTES) as usize;
            for s in image[a..b].chunks_exact(2) {
                w.write_sample(i16::from_le_bytes([s[0], s[1]]))
                    .map_err(|e| e.to_string())?;
            }
            w.finalize().map_err(|e| e.to_string())?;
        }
    }
    let ok = checksums.iter().all(|c| c.1) && checksums.len() >= 5;
    Ok(DdpReport {
        level,
        upc,
        title: text.get(&(0x80, 0)).cloned(),
        performer: text.get(&(0x81, 0)).cloned(),
        tracks,
        total: crate::album::cd::msf(lead_out),
        checksums,
        ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DDP image written and read back; then a PQ descriptor whose index points run
    /// backwards is refused with a message (not a panic), and the CD-Text CRC catches a flip.
    #[test]
    fn reads_back_and_refuses_damage() {
        let dir = tempfile::tempdir().unwrap();
        let plans: Vec<crate::album::cd::TrackPlan> = ["one", "two"]
            .iter()
            .map(|t| crate::album::cd::TrackPlan {
                title: t.to_string(),
                performer: None,
                isrc: Some("USXXX2600001".into()),
                pregap_s: 0.0,
                crossfade_s: 0.0,
                samples: 44_100 * 5,
            })
            .collect();
        let layout = crate::album::cd::layout(&plans).unwrap();
        let wav = dir.path().join("cd.wav");
        crate::album::cd::write_image(
            &wav,
            &layout,
            lathe_dsp::dither::DitherKind::None,
            1,
            |_, sink| sink(&vec![0.25f32; 44_100 * 5 * 2]),
        )
        .unwrap();
        let ddp = dir.path().join("ddp");
        write_ddp(
            &ddp,
            &wav,
            &layout,
            "Album",
            Some("Artist"),
            Some("4006381333931"),
        )
        .unwrap();
        let r = verify_ddp(&ddp, None).unwrap();
        assert!(r.ok);
        assert_eq!(r.tracks.len(), 2);
        assert_eq!(r.tracks[1].start_frames, 375);
        assert_eq!(r.tracks[1].title.as_deref(), Some("two"));
        assert_eq!(r.title.as_deref(), Some("Album"));
        // Track 2's INDEX 01 moved before track 1's: refused.
        let mut pq = std::fs::read(ddp.join(PQ)).unwrap();
        let second = pq.chunks(64).position(|e| &e[4..6] == b"02").unwrap();
        pq[second * 64 + 10..second * 64 + 16].copy_from_slice(b"000000");
        std::fs::write(ddp.join(PQ), &pq).unwrap();
        let e = verify_ddp(&ddp, None).unwrap_err();
        assert!(e.contains("out of order"), "{e}");
        // One flipped bit in a CD-Text pack fails its CRC.
        let mut text = std::fs::read(ddp.join(TEXT)).unwrap();
        text[6] ^= 0x01;
        std::fs::write(ddp.join(TEXT), &text).unwrap();
        assert!(verify_ddp(&ddp, None).unwrap_err().contains("CRC"));
        // A checksum list that names a file outside the image is refused before it is read.
        std::fs::write(dir.path().join("secret"), b"not part of the image").unwrap();
        let sums = std::fs::read_to_string(ddp.join(SUMS)).unwrap();
        for outside in ["../secret", "/etc/hostname"] {
            std::fs::write(ddp.join(SUMS), format!("{sums}0123  {outside}\n")).unwrap();
            let e = verify_ddp(&ddp, None).unwrap_err();
            assert!(e.contains("outside its folder"), "{e}");
        }
    }
}

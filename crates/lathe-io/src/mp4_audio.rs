//! The smallest MPEG-4 file (ISO/IEC 14496-12 and -14) that holds one AAC audio track:
//! `ftyp`, then `mdat` with every access unit in order, then `moov` describing them. The movie
//! box goes last because the frame sizes are known only once encoding ends; it carries the
//! tags too (`udta/meta/ilst`, iTunes-style items), so nothing is rewritten afterwards.
//!
//! Gapless playback: the encoder's delay (its priming samples) and the padding after the last
//! real frame are cut by an edit list (`edts/elst`): the presentation starts `delay` samples
//! into the media and lasts exactly the frames that were encoded. ffmpeg and Apple's players
//! honour it.

use std::io::{self, Seek, SeekFrom, Write};

/// What `moov` must say about the track.
pub struct TrackFacts<'a> {
    pub sample_rate_hz: u32,
    pub channels: u16,
    /// Samples per access unit (1024 for AAC-LC).
    pub frame_len: u32,
    /// The encoder's AudioSpecificConfig (the decoder's setup).
    pub audio_specific_config: &'a [u8],
    /// The size of every access unit, in order.
    pub sizes: &'a [u32],
    /// Samples to skip at the start (the encoder's delay).
    pub delay: u32,
    /// The frames the listener hears (the input's length).
    pub frames: u64,
    /// Offset of the first access unit in the file.
    pub data_offset: u64,
    pub avg_bitrate_bps: u32,
    /// Tags (name, value) as Vorbis comments name them: TITLE → `©nam`, ARTIST → `©ART`, any
    /// other (ISRC) → a `----` item of `com.apple.iTunes` under its own name.
    pub tags: &'a [(String, String)],
}

/// Writes `ftyp` and the header of an `mdat` whose size is patched by [`finish_mdat`];
/// returns the offset of its first data byte.
pub fn start<W: Write>(out: &mut W) -> io::Result<u64> {
    let ftyp = boxed(
        *b"ftyp",
        &cat(&[b"M4A ", &0u32.to_be_bytes(), b"M4A mp42isom"]),
    );
    out.write_all(&ftyp)?;
    // An empty `free` box, then `mdat` with a 32-bit size: if the data passes 4 GiB, the two
    // headers become one `mdat` header with a 64-bit size. (Tag writers such as lofty do not
    // read a 64-bit `mdat` header, so it is used only when it must be.)
    out.write_all(&boxed(*b"free", &[]))?;
    out.write_all(&boxed(*b"mdat", &[]))?;
    Ok(ftyp.len() as u64 + 16)
}

/// Writes the final `mdat` size, now that `data_len` bytes of access units follow its header.
pub fn finish_mdat<W: Write + Seek>(
    out: &mut W,
    data_offset: u64,
    data_len: u64,
) -> io::Result<()> {
    let end = out.stream_position()?;
    match u32::try_from(data_len + 8) {
        Ok(size) => {
            out.seek(SeekFrom::Start(data_offset - 8))?;
            out.write_all(&size.to_be_bytes())?;
        }
        Err(_) => {
            out.seek(SeekFrom::Start(data_offset - 16))?;
            out.write_all(&cat(&[
                &1u32.to_be_bytes(),
                b"mdat",
                &(data_len + 16).to_be_bytes(),
            ]))?;
        }
    }
    out.seek(SeekFrom::Start(end))?;
    Ok(())
}

/// The `moov` box for the track.
pub fn moov(t: &TrackFacts<'_>) -> io::Result<Vec<u8>> {
    let media_len = t.sizes.len() as u64 * u64::from(t.frame_len);
    let duration = u32::try_from(t.frames)
        .map_err(|_| io::Error::other("MPEG-4: longer than 2^32 samples"))?;
    let media_duration =
        u32::try_from(media_len).map_err(|_| io::Error::other("MPEG-4: too many samples"))?;
    let rate = t.sample_rate_hz;
    let mvhd = full(
        *b"mvhd",
        &cat(&[
            &[0u8; 8], // creation and modification time
            &rate.to_be_bytes(),
            &duration.to_be_bytes(),
            &0x0001_0000u32.to_be_bytes(), // rate 1.0
            &0x0100u16.to_be_bytes(),      // volume 1.0
            &[0u8; 10],
            &MATRIX,
            &[0u8; 24],
            &2u32.to_be_bytes(), // next track id
        ]),
    );
    let tkhd = full_flags(
        *b"tkhd",
        7, // enabled, in movie, in preview
        &cat(&[
            &[0u8; 8],
            &1u32.to_be_bytes(), // track id
            &[0u8; 4],
            &duration.to_be_bytes(),
            &[0u8; 8],
            &0u16.to_be_bytes(), // layer
            &0u16.to_be_bytes(), // alternate group
            &0x0100u16.to_be_bytes(),
            &[0u8; 2],
            &MATRIX,
            &[0u8; 8], // width, height
        ]),
    );
    let elst = full(
        *b"elst",
        &cat(&[
            &1u32.to_be_bytes(),
            &duration.to_be_bytes(),
            &t.delay.to_be_bytes(),
            &1u16.to_be_bytes(), // media rate 1.0
            &0u16.to_be_bytes(),
        ]),
    );
    let mdhd = full(
        *b"mdhd",
        &cat(&[
            &[0u8; 8],
            &rate.to_be_bytes(),
            &media_duration.to_be_bytes(),
            &0x55C4u16.to_be_bytes(), // language "und"
            &[0u8; 2],
        ]),
    );
    let hdlr = full(
        *b"hdlr",
        &cat(&[&[0u8; 4], b"soun", &[0u8; 12], b"SoundHandler\0"]),
    );
    let url = full_flags(*b"url ", 1, &[]); // the data is in this file
    let dinf = boxed(
        *b"dinf",
        &full(*b"dref", &cat(&[&1u32.to_be_bytes(), &url])),
    );
    let minf = boxed(
        *b"minf",
        &cat(&[&full(*b"smhd", &[0u8; 4]), &dinf, &stbl(t)]),
    );
    let mdia = boxed(*b"mdia", &cat(&[&mdhd, &hdlr, &minf]));
    let trak = boxed(*b"trak", &cat(&[&tkhd, &boxed(*b"edts", &elst), &mdia]));
    Ok(boxed(*b"moov", &cat(&[&mvhd, &trak, &udta(t.tags)])))
}

/// The sample table: one chunk holding every access unit, in order.
fn stbl(t: &TrackFacts<'_>) -> Vec<u8> {
    let count = t.sizes.len() as u32;
    let stsd = full(*b"stsd", &cat(&[&1u32.to_be_bytes(), &mp4a(t)]));
    let stts = full(
        *b"stts",
        &cat(&[
            &1u32.to_be_bytes(),
            &count.to_be_bytes(),
            &t.frame_len.to_be_bytes(),
        ]),
    );
    let stsc = full(
        *b"stsc",
        &cat(&[
            &1u32.to_be_bytes(),
            &1u32.to_be_bytes(),
            &count.to_be_bytes(),
            &1u32.to_be_bytes(),
        ]),
    );
    let sizes: Vec<u8> = t.sizes.iter().flat_map(|s| s.to_be_bytes()).collect();
    let stsz = full(
        *b"stsz",
        &cat(&[&0u32.to_be_bytes(), &count.to_be_bytes(), &sizes]),
    );
    let co64 = full(
        *b"co64",
        &cat(&[&1u32.to_be_bytes(), &t.data_offset.to_be_bytes()]),
    );
    boxed(*b"stbl", &cat(&[&stsd, &stts, &stsc, &stsz, &co64]))
}

/// The audio sample entry with its elementary-stream descriptor.
fn mp4a(t: &TrackFacts<'_>) -> Vec<u8> {
    let max_frame = t.sizes.iter().copied().max().unwrap_or(0);
    let max_bitrate = (u64::from(max_frame) * 8 * u64::from(t.sample_rate_hz)
        / u64::from(t.frame_len.max(1))) as u32;
    let decoder_specific = descriptor(5, t.audio_specific_config);
    let decoder_config = descriptor(
        4,
        &cat(&[
            &[0x40],                       // MPEG-4 audio
            &[0x15],                       // audio stream, upstream 0, reserved 1
            &max_frame.to_be_bytes()[1..], // buffer size, 24 bits
            &max_bitrate.to_be_bytes(),
            &t.avg_bitrate_bps.to_be_bytes(),
            &decoder_specific,
        ]),
    );
    let sl_config = descriptor(6, &[2]);
    let es = descriptor(3, &cat(&[&[0, 0, 0], &decoder_config, &sl_config]));
    let esds = full(*b"esds", &es);
    // The sample rate field is 16.16 fixed point: AAC's rates all fit.
    let rate_fixed = (t.sample_rate_hz.min(0xFFFF)) << 16;
    boxed(
        *b"mp4a",
        &cat(&[
            &[0u8; 6],
            &1u16.to_be_bytes(), // data reference index
            &[0u8; 8],
            &t.channels.to_be_bytes(),
            &16u16.to_be_bytes(),
            &[0u8; 4],
            &rate_fixed.to_be_bytes(),
            &esds,
        ]),
    )
}

/// The identity transformation matrix of `mvhd` and `tkhd`.
const MATRIX: [u8; 36] = {
    let mut m = [0u8; 36];
    m[1] = 1; // 0x00010000
    m[17] = 1; // 0x00010000
    m[32] = 0x40; // 0x40000000
    m
};

/// The tags as iTunes-style metadata (`udta/meta` with an `mdir` handler and `ilst`); empty
/// without tags.
fn udta(tags: &[(String, String)]) -> Vec<u8> {
    if tags.is_empty() {
        return Vec::new();
    }
    // A `data` box: type 1 (UTF-8 text), locale 0, the text.
    let data = |v: &str| {
        boxed(
            *b"data",
            &cat(&[&1u32.to_be_bytes(), &[0u8; 4], v.as_bytes()]),
        )
    };
    let items: Vec<u8> = tags
        .iter()
        .flat_map(|(name, value)| match name.as_str() {
            "TITLE" => boxed([0xA9, b'n', b'a', b'm'], &data(value)),
            "ARTIST" => boxed([0xA9, b'A', b'R', b'T'], &data(value)),
            other => boxed(
                *b"----",
                &cat(&[
                    &full(*b"mean", b"com.apple.iTunes"),
                    &full(*b"name", other.as_bytes()),
                    &data(value),
                ]),
            ),
        })
        .collect();
    let hdlr = full(*b"hdlr", &cat(&[&[0u8; 4], b"mdir", b"appl", &[0u8; 9]]));
    let meta = full(*b"meta", &cat(&[&hdlr, &boxed(*b"ilst", &items)]));
    boxed(*b"udta", &meta)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn boxed(kind: [u8; 4], body: &[u8]) -> Vec<u8> {
    cat(&[&(body.len() as u32 + 8).to_be_bytes(), &kind, body])
}

fn full(kind: [u8; 4], body: &[u8]) -> Vec<u8> {
    full_flags(kind, 0, body)
}

/// A "full box": version 0 and 24 bits of flags before the body.
fn full_flags(kind: [u8; 4], flags: u32, body: &[u8]) -> Vec<u8> {
    boxed(kind, &cat(&[&flags.to_be_bytes(), body]))
}

/// An MPEG-4 descriptor: tag, length in 7-bit groups, body.
fn descriptor(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len() as u32;
    let len = [
        0x80 | ((n >> 21) & 0x7F) as u8,
        0x80 | ((n >> 14) & 0x7F) as u8,
        0x80 | ((n >> 7) & 0x7F) as u8,
        (n & 0x7F) as u8,
    ];
    cat(&[&[tag], &len, body])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_lengths_and_box_sizes_are_what_the_standard_says() {
        assert_eq!(
            descriptor(5, &[0x12, 0x10]),
            [5, 0x80, 0x80, 0x80, 2, 0x12, 0x10]
        );
        let long = descriptor(3, &[0; 200]);
        assert_eq!(&long[1..5], &[0x80, 0x80, 0x81, 0x48]); // 1*128 + 72 = 200
        let mut file = std::io::Cursor::new(Vec::new());
        let at = start(&mut file).unwrap();
        file.write_all(&[7; 100]).unwrap();
        finish_mdat(&mut file, at, 100).unwrap();
        let bytes = file.into_inner();
        assert_eq!(
            &bytes[at as usize - 8..at as usize],
            &[0, 0, 0, 108, b'm', b'd', b'a', b't']
        );
        let mut huge = std::io::Cursor::new(vec![0u8; at as usize]);
        huge.set_position(at);
        finish_mdat(&mut huge, at, 1 << 32).unwrap();
        let h = huge.into_inner();
        assert_eq!(
            &h[at as usize - 16..at as usize - 8],
            &[0, 0, 0, 1, b'm', b'd', b'a', b't']
        );
        assert_eq!(
            h[at as usize - 8..at as usize],
            ((1u64 << 32) + 16).to_be_bytes()
        );
        let b = full(*b"smhd", &[0; 4]);
        assert_eq!(
            u32::from_be_bytes(b[..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(&b[4..8], b"smhd");
    }

    /// The children of a box body: (kind, body) per box, by their size fields.
    fn children(mut body: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut out = Vec::new();
        while body.len() >= 8 {
            let size = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
            out.push((body[4..8].try_into().unwrap(), &body[8..size]));
            body = &body[size..];
        }
        out
    }

    #[test]
    fn tags_are_itunes_items_under_udta_meta_ilst() {
        assert!(udta(&[]).is_empty());
        let tags = [
            ("TITLE".to_string(), "Ana".to_string()),
            ("ISRC".to_string(), "GBAYE0601498".to_string()),
        ];
        let u = udta(&tags);
        let top = children(&u);
        assert_eq!(top.len(), 1);
        assert_eq!(&top[0].0, b"udta");
        let meta = children(top[0].1);
        assert_eq!(&meta[0].0, b"meta");
        // `meta` is a full box: 4 bytes of version and flags, then hdlr and ilst.
        let inner = children(&meta[0].1[4..]);
        assert_eq!(&inner[0].0, b"hdlr");
        assert_eq!(&inner[0].1[8..12], b"mdir");
        assert_eq!(&inner[1].0, b"ilst");
        let items = children(inner[1].1);
        assert_eq!(items[0].0, [0xA9, b'n', b'a', b'm']);
        let data = children(items[0].1);
        assert_eq!(&data[0].0, b"data");
        assert_eq!(data[0].1, &[0, 0, 0, 1, 0, 0, 0, 0, b'A', b'n', b'a']);
        assert_eq!(&items[1].0, b"----");
        let free = children(items[1].1);
        assert_eq!(&free[0].1[4..], b"com.apple.iTunes");
        assert_eq!(&free[1].1[4..], b"ISRC");
        assert_eq!(&free[2].1[8..], b"GBAYE0601498");
    }
}

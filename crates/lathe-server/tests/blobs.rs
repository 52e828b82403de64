//! The object store's contract, on a local folder and on a real S3-compatible server (the one
//! `scripts/setup.sh`'s `ensure_s3` starts: `LATHE_TEST_S3=s3://BUCKET` with
//! `LATHE_TEST_S3_ENDPOINT`, `LATHE_TEST_S3_KEY_ID`, `LATHE_TEST_S3_SECRET`). Without a
//! server the S3 half says it was skipped; with `LATHE_REQUIRE_SERVICES=1` (CI) it fails.

use lathe_server::blobs::{BlobError, Blobs, S3Access, StoreUrl};

fn s3_access() -> Option<(StoreUrl, S3Access)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(url) = var("LATHE_TEST_S3") else {
        assert!(
            var("LATHE_REQUIRE_SERVICES").is_none(),
            "LATHE_REQUIRE_SERVICES is set but LATHE_TEST_S3 is not (scripts/setup.sh: ensure_s3)"
        );
        eprintln!("skipped the S3 half: LATHE_TEST_S3 is not set (scripts/setup.sh: ensure_s3)");
        return None;
    };
    let access = S3Access {
        key_id: var("LATHE_TEST_S3_KEY_ID").expect("LATHE_TEST_S3_KEY_ID"),
        secret: var("LATHE_TEST_S3_SECRET").expect("LATHE_TEST_S3_SECRET"),
        region: "us-east-1".into(),
        endpoint: var("LATHE_TEST_S3_ENDPOINT"),
    };
    Some((StoreUrl::parse(&url).unwrap(), access))
}

/// A store of each kind, each under a prefix of its own so that runs do not meet.
fn stores(tag: &str) -> Vec<(Blobs, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(Blobs::local(&dir.path().join("store")).unwrap(), dir)];
    if let Some((mut url, access)) = s3_access() {
        let unique = format!("{tag}-{}-{}", std::process::id(), nanos());
        url.prefix = [url.prefix.as_str(), &unique]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        out.push((
            Blobs::s3(&url, &access).unwrap(),
            tempfile::tempdir().unwrap(),
        ));
    }
    out
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Bytes that differ at every offset from a shifted copy (so a misplaced part shows).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn files_go_in_and_come_back_whole() {
    for (store, scratch) in stores("roundtrip") {
        store.check().unwrap();
        // Small, exactly one part, and several parts with a short last one (multipart).
        let part = lathe_server::blobs::PART_BYTES;
        for (i, len) in [0usize, 1, 1000, part, 2 * part + 12345]
            .into_iter()
            .enumerate()
        {
            let data = pattern(len, i as u64 + 7);
            let src = scratch.path().join(format!("src{i}.bin"));
            std::fs::write(&src, &data).unwrap();
            let key = format!("jobs/abc{i}/in/mix.wav");
            assert_eq!(
                store.put_file(&key, &src).unwrap(),
                len as u64,
                "{}",
                store.name()
            );
            let back = scratch.path().join(format!("back/{i}/mix.wav"));
            assert_eq!(store.get_file(&key, &back).unwrap(), len as u64);
            let got = std::fs::read(&back).unwrap();
            assert!(
                got == data,
                "{}: {len} bytes came back different",
                store.name()
            );
            // No part file left beside it.
            let left: Vec<_> = std::fs::read_dir(back.parent().unwrap())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(left, vec![std::ffi::OsString::from("mix.wav")]);
        }
        // The input file is left as it was.
        assert_eq!(
            std::fs::read(scratch.path().join("src2.bin")).unwrap(),
            pattern(1000, 9)
        );
    }
}

#[test]
fn listing_and_deleting_keep_to_their_prefix() {
    for (store, scratch) in stores("listing") {
        let src = scratch.path().join("f");
        for (key, len) in [
            ("jobs/a1/rev/1/a1/master.wav", 10),
            ("jobs/a1/rev/1/a1/report.json", 3),
            ("jobs/a1/rev/1/a2/master.wav", 20),
            ("jobs/a1/rev/10/a1/master.wav", 5),
            ("jobs/a10/in/mix.wav", 7),
        ] {
            std::fs::write(&src, vec![1u8; len]).unwrap();
            store.put_file(key, &src).unwrap();
        }
        let name = store.name().to_string();
        assert_eq!(
            store.list("jobs/a1/rev/1/a1").unwrap(),
            vec![
                ("master.wav".to_string(), 10),
                ("report.json".to_string(), 3)
            ],
            "{name}"
        );
        // A prefix is whole segments: rev/1 is not rev/10, a1 is not a10.
        assert_eq!(store.list("jobs/a1/rev/1").unwrap().len(), 3, "{name}");
        assert_eq!(store.list("jobs/a1").unwrap().len(), 4, "{name}");
        assert_eq!(store.list("jobs/nothing").unwrap(), vec![], "{name}");
        assert_eq!(store.delete_prefix("jobs/a1").unwrap(), 4, "{name}");
        assert_eq!(store.list("jobs/a1").unwrap(), vec![], "{name}");
        assert_eq!(store.list("jobs/a10").unwrap().len(), 1, "{name}");
        // A missing object is named as such, and nothing is written for it.
        let to = scratch.path().join("missing.wav");
        match store.get_file("jobs/a1/rev/1/a1/master.wav", &to) {
            Err(BlobError::NotFound { key, .. }) => assert!(key.contains("master.wav"), "{key}"),
            other => panic!("{name}: {other:?}"),
        }
        assert!(!to.exists() && !scratch.path().join("missing.wav.part").exists());
    }
}

#[test]
fn keys_that_could_leave_the_prefix_are_refused() {
    let (store, _dir) = stores("keys").remove(0);
    let src = _dir.path().join("x");
    std::fs::write(&src, b"x").unwrap();
    for bad in ["", "/abs", "a/../b", "a//b", "./a", "a/."] {
        assert!(
            matches!(store.put_file(bad, &src), Err(BlobError::Config(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn downloads_stream_from_async_code() {
    for (store, scratch) in stores("stream") {
        let data = pattern(3 * lathe_server::blobs::PART_BYTES / 2, 3);
        let src = scratch.path().join("s");
        std::fs::write(&src, &data).unwrap();
        store.put_file("jobs/s/out/master.flac", &src).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let got = rt.block_on(async {
            use futures_util::StreamExt;
            let (size, mut stream) = store.open("jobs/s/out/master.flac").await.unwrap();
            let mut all = Vec::new();
            while let Some(chunk) = stream.next().await {
                all.extend_from_slice(&chunk.unwrap());
            }
            (size, all)
        });
        assert_eq!(got.0, data.len() as u64);
        assert!(got.1 == data, "{}", store.name());
    }
}

/// What a studio gets wrong when setting it up: each gives one line naming what failed.
#[test]
fn bad_configuration_is_named() {
    let Some((url, access)) = s3_access() else {
        return;
    };
    let missing = StoreUrl::parse("s3://no-such-bucket-here").unwrap();
    let e = Blobs::s3(&missing, &access)
        .unwrap()
        .check()
        .unwrap_err()
        .to_string();
    eprintln!("missing bucket: {e}");
    assert!(
        e.contains("s3://no-such-bucket-here") && e.contains("NoSuchBucket"),
        "{e}"
    );
    let wrong = S3Access {
        secret: "not-the-secret".into(),
        ..access.clone()
    };
    let e = Blobs::s3(&url, &wrong)
        .unwrap()
        .check()
        .unwrap_err()
        .to_string();
    eprintln!("wrong secret: {e}");
    assert!(
        e.contains("SignatureDoesNotMatch") || e.contains("AccessDenied"),
        "{e}"
    );
    assert!(
        !e.contains("not-the-secret"),
        "the secret must not be printed: {e}"
    );
    let nobody = S3Access {
        endpoint: Some("http://127.0.0.1:1".into()),
        ..access
    };
    let started = std::time::Instant::now();
    let e = Blobs::s3(&url, &nobody)
        .unwrap()
        .check()
        .unwrap_err()
        .to_string();
    eprintln!("no server: {e} ({:.1} s)", started.elapsed().as_secs_f64());
    assert!(e.to_lowercase().contains("connect"), "{e}");
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
}

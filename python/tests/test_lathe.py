"""The Python package against independent references: libebur128 (pyebur128) for loudness
and true peak, scipy for filter responses, and the `lathe` command line for messages.

Corpus tests need LATHE_CORPUS (built by `.ci/run`); without it they are skipped, saying so.
"""

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pyebur128
import pytest
import scipy.signal
import soundfile

import lathe

ROOT = Path(__file__).resolve().parents[2]


def corpus_mixes():
    corpus = os.environ.get("LATHE_CORPUS")
    if not corpus:
        return []
    return sorted((Path(corpus) / "public" / "mixes").glob("*.wav"))


needs_corpus = pytest.mark.skipif(
    not corpus_mixes(), reason="LATHE_CORPUS is not set: corpus tests skipped (.ci/run builds it)"
)


def ebur128(x, sr):
    """Integrated loudness (LUFS) and true peak (dBTP) by libebur128."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    channels = x.shape[1]
    mode = pyebur128.MeasurementMode.MODE_I | pyebur128.MeasurementMode.MODE_TRUE_PEAK
    st = pyebur128.R128State(channels, sr, mode)
    st.add_frames(x.flatten(), x.shape[0])
    tp = max(pyebur128.get_true_peak(st, c) for c in range(channels))
    return pyebur128.get_loudness_global(st), 20 * np.log10(tp)


def music_like(seconds=20.0, sr=44100, seed=1):
    """Chords, a kick every half second and noise: something a limiter has work on."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    beat = t % 0.5
    kick = np.exp(-beat / 0.04) * np.sin(2 * np.pi * 60 * beat)
    chord = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.15 * np.sin(2 * np.pi * 331 * t)
    noise = 0.03 * rng.standard_normal(t.size)
    left = 0.25 * kick + chord + noise
    right = 0.25 * kick + 0.9 * chord - noise
    return np.stack([left, right], axis=1)


def test_analyze_an_array_agrees_with_libebur128():
    sr = 48000
    x = music_like(sr=sr)
    got = lathe.analyze(x.astype(np.float32), sr)
    want, _ = ebur128(x.astype(np.float32), sr)
    assert abs(got["integrated_lufs"] - want) < 0.02, (got["integrated_lufs"], want)
    assert got["file"] == "<array>"
    assert got["sample_rate_hz"] == sr


@needs_corpus
def test_analyze_agrees_with_libebur128_on_corpus_mixes():
    for mix in corpus_mixes():
        x, sr = soundfile.read(mix, dtype="float64", always_2d=True)
        want, _ = ebur128(x, sr)
        from_array = lathe.analyze(x, sr)["integrated_lufs"]
        from_path = lathe.analyze(mix)["integrated_lufs"]
        print(f"{mix.name}: lathe {from_array:.3f} / {from_path:.3f}, libebur128 {want:.3f} LUFS")
        assert abs(from_array - want) < 0.02, (mix, from_array, want)
        assert abs(from_path - want) < 0.02, (mix, from_path, want)


def master_input():
    mixes = corpus_mixes()
    if mixes:
        x, sr = soundfile.read(mixes[0], dtype="float32", always_2d=True)
        return x, sr
    return music_like().astype(np.float32), 44100


def test_master_lands_on_target_under_the_ceiling():
    x, sr = master_input()
    y, report = lathe.master(x, sr, preset="streaming")
    assert y.dtype == np.float32 and y.shape == x.shape
    lufs, tp = ebur128(y, sr)
    print(f"master: {lufs:.3f} LUFS, {tp:.3f} dBTP by libebur128; report {report['passes'][-1]['integrated_lufs']:.3f}")
    assert abs(lufs - (-14.0)) <= 0.1
    assert tp <= -1.0
    assert report["target"]["integrated_lufs"] == -14.0


def test_master_takes_a_target_and_a_ceiling():
    x, sr = master_input()
    y, _ = lathe.master(x, sr, target_lufs=-16.0, ceiling_dbtp=-2.0)
    lufs, tp = ebur128(y, sr)
    assert abs(lufs - (-16.0)) <= 0.1
    assert tp <= -2.0


def test_master_file_writes_the_deliverables(tmp_path):
    x = music_like(seconds=8.0)
    src = tmp_path / "mix.wav"
    soundfile.write(src, x, 44100, subtype="PCM_24")
    before = src.read_bytes()
    report = lathe.master_file(src, tmp_path / "out", deliver=["wav:24", "flac:16"])
    assert src.read_bytes() == before
    paths = [Path(d["path"]) for d in report["deliverables"]]
    assert [p.suffix for p in paths] == [".wav", ".flac"]
    for p in paths:
        y, sr = soundfile.read(p, always_2d=True)
        lufs, tp = ebur128(y, sr)
        assert abs(lufs + 14.0) <= 0.1 and tp <= -1.0, (p, lufs, tp)
    assert (tmp_path / "out" / "report.json").exists()


def test_blocks_of_a_stream_equal_one_call():
    sr = 44100
    x = music_like(seconds=6.0)

    def chain():
        return lathe.Chain(
            [lathe.HighPass(freq_hz=40), lathe.Compressor(ratio=3, threshold_db=-20), lathe.Limiter(ceiling_dbtp=-1)]
        )

    kept = x.copy()
    whole = chain().process(x, sr)
    assert np.array_equal(x, kept), "the input was modified"
    streamed = chain()
    rng = np.random.default_rng(5)
    parts, at = [], 0
    while at < len(x):
        n = int(rng.integers(1, 5000))
        parts.append(streamed.process(x[at : at + n], sr))
        at += n
    assert np.array_equal(np.concatenate(parts), whole)
    # reset=True starts again from silence.
    assert np.array_equal(streamed.process(x, sr, reset=True), whole)


def test_a_whole_array_comes_back_aligned():
    sr = 48000
    x = music_like(seconds=3.0, sr=sr)
    flat = lathe.Chain([lathe.EQ([lathe.Bell(1000, 0.0)], phase="linear")])
    assert flat.latency_samples(sr) > 0
    y = flat(x, sr)
    assert y.shape == x.shape
    assert np.max(np.abs(y - x)) < 1e-6


def test_high_pass_follows_the_butterworth_response():
    sr = 48000
    t = np.arange(sr * 2) / sr
    for freq in (25.0, 50.0, 100.0, 400.0):
        x = 0.5 * np.sin(2 * np.pi * freq * t)
        y = lathe.HighPass(freq_hz=100.0, slope_db_oct=12)(x, sr)
        got = 20 * np.log10(np.sqrt(np.mean(y[sr:] ** 2)) / np.sqrt(np.mean(x[sr:] ** 2)))
        b, a = scipy.signal.butter(2, 100.0, "highpass", fs=sr)
        _, h = scipy.signal.freqz(b, a, worN=[freq], fs=sr)
        want = 20 * np.log10(abs(h[0]))
        assert abs(got - want) < 0.1, (freq, got, want)


def test_the_limiter_holds_its_ceiling():
    sr = 44100
    x = music_like(seconds=10.0) * 4.0  # +12 dB: peaks far over full scale
    _, tp_in = ebur128(x, sr)
    y = lathe.Limiter(ceiling_dbtp=-1.0)(x, sr)
    _, tp = ebur128(y, sr)
    assert tp_in > 6.0
    assert tp <= -1.0, tp


def test_mono_stays_mono_and_dtypes_follow_the_input():
    sr = 44100
    x = music_like(seconds=2.0)[:, 0]
    y = lathe.Chain([lathe.Gain(gain_db=-6.0)])(x.astype(np.float32), sr)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.allclose(y, x * 10 ** (-6 / 20), atol=1e-6)
    z = lathe.Saturate(drive_db=3.0)(x, sr)
    assert z.dtype == np.float64
    ints = lathe.Gain(gain_db=0.0)([0.0, 0.5, -0.5], sr)
    assert ints.dtype == np.float64


def test_bad_settings_and_arrays_raise_lathe_errors():
    with pytest.raises(lathe.LatheError, match="unknown field `ratoi`"):
        lathe.Compressor(ratoi=2)
    with pytest.raises(lathe.LatheError, match="limiter.ceiling_dbtp must be within -24…0, got 5"):
        lathe.Limiter(ceiling_dbtp=5.0)
    with pytest.raises(lathe.LatheError, match="1 or 2 channels"):
        lathe.Gain()(np.zeros((100, 3)), 44100)
    with pytest.raises(lathe.LatheError, match="\\(channels, frames\\)"):
        lathe.Gain()(np.zeros((2, 1000)), 44100)
    with pytest.raises(lathe.LatheError, match="sample_rate"):
        lathe.Gain()(np.zeros(100), 0)
    with pytest.raises(lathe.LatheError, match="NaN"):
        lathe.analyze(np.full(1000, np.nan), 44100)


def lathe_cli():
    exe = os.environ.get("LATHE_BIN") or ROOT / "target" / "release" / "lathe"
    return exe if Path(exe).exists() else shutil.which("lathe")


@pytest.mark.skipif(lathe_cli() is None, reason="no lathe binary (cargo build --release -p lathe-cli)")
def test_errors_carry_the_command_line_s_messages(tmp_path):
    src = tmp_path / "mix.wav"
    soundfile.write(src, music_like(seconds=2.0), 44100, subtype="FLOAT")
    for flags, kwargs in [
        (["--preset", "nope"], {"preset": "nope"}),
        (["--target-lufs", "5"], {"target_lufs": 5.0}),
    ]:
        cli = subprocess.run(
            [str(lathe_cli()), "master", str(src), "-o", str(tmp_path / "cli"), *flags],
            capture_output=True,
            text=True,
        )
        assert cli.returncode != 0
        message = cli.stderr.strip().splitlines()[-1].removeprefix("lathe: ")
        with pytest.raises(lathe.LatheError) as e:
            lathe.master_file(src, tmp_path / "py", **kwargs)
        assert str(e.value) == message
    with pytest.raises(lathe.LatheError, match="nope.wav"):
        lathe.analyze(tmp_path / "nope.wav")


def test_the_gil_is_released_while_audio_is_processed():
    sr = 48000
    x = np.tile(music_like(seconds=10.0, sr=sr), (6, 1))  # a minute
    chain = lathe.Chain([lathe.Limiter(ceiling_dbtp=-1.0)])
    done = threading.Event()
    ticks = 0

    def work():
        chain.process(x, sr)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    # With the GIL held for the whole call, this thread would not have run in between.
    assert ticks > 5, ticks


def test_every_processor_runs_with_its_defaults():
    sr = 48000
    x = music_like(seconds=2.0, sr=sr)
    processors = [
        lathe.HighPass(), lathe.LowPass(), lathe.Bell(1000, 3.0), lathe.Shelf(100, 2.0),
        lathe.LowShelf(100, -2.0), lathe.HighShelf(8000, 1.5), lathe.Notch(3000), lathe.Tilt(1000, 1.0),
        lathe.EQ([lathe.Bell(200, -2.0), {"kind": "high_pass", "freq_hz": 25.0}]),
        lathe.Gain(gain_db=-1.0), lathe.Compressor(), lathe.Multiband(), lathe.Saturate(),
        lathe.Stereo(width=1.2), lathe.Clipper(), lathe.Limiter(), lathe.Dither(),
        lathe.DynamicEQ(), lathe.DeEsser(), lathe.TransientShaper(), lathe.ResonanceSuppressor(),
        lathe.Imager(),
    ]
    for p in processors:
        y = p(x, sr)
        assert y.shape == x.shape and np.isfinite(y).all(), p


def test_dither_quantises_to_its_bits():
    sr = 44100
    x = 0.3 * music_like(seconds=1.0)
    for bits in (16, 24):
        y = lathe.Dither(bits=bits, kind="tpdf", seed=7)(x, sr)
        steps = y * 2 ** (bits - 1)
        assert np.max(np.abs(steps - np.round(steps))) < 1e-6, bits
        # TPDF dither of ±1 LSB: the error stays within 1.5 LSB and averages out.
        err = (y - x) * 2 ** (bits - 1)
        assert np.max(np.abs(err)) <= 1.5 + 1e-9 and abs(np.mean(err)) < 0.05


@pytest.mark.skipif(lathe_cli() is None, reason="no lathe binary (cargo build --release -p lathe-cli)")
def test_a_saved_session_renders_the_same_master(tmp_path):
    src = tmp_path / "mix.wav"
    soundfile.write(src, music_like(seconds=8.0), 44100, subtype="FLOAT")
    session = tmp_path / "session.toml"
    subprocess.run(
        [str(lathe_cli()), "master", str(src), "-o", str(tmp_path / "cli"), "--deliver", "wav:24",
         "--save-session", str(session)],
        check=True, capture_output=True,
    )
    report = lathe.render(session, tmp_path / "py")
    cli, sr = soundfile.read(next((tmp_path / "cli").glob("*.wav")), always_2d=True)
    py, _ = soundfile.read(report["deliverables"][0]["path"], always_2d=True)
    assert np.array_equal(cli, py)
    lufs, tp = ebur128(py, sr)
    assert abs(lufs + 14.0) <= 0.1 and tp <= -1.0


def test_master_matches_a_reference_array():
    sr = 44100
    x = 0.25 * music_like(seconds=12.0, seed=2)
    # The reference: brighter and louder (its loudness becomes the target).
    b, a = scipy.signal.butter(1, 2000.0, "highpass", fs=sr)
    ref = 0.5 * music_like(seconds=12.0, seed=3) + 0.4 * scipy.signal.lfilter(b, a, music_like(seconds=12.0, seed=4), axis=0)
    ref_lufs, _ = ebur128(ref, sr)
    y, report = lathe.master(x, sr, reference=ref)
    lufs, tp = ebur128(y, sr)
    print(f"matched: {lufs:.3f} LUFS (reference {ref_lufs:.3f}), {tp:.3f} dBTP")
    assert abs(lufs - ref_lufs) <= 0.1
    assert tp <= -1.0
    assert "reference" in report and report["target"]["integrated_lufs"] == pytest.approx(ref_lufs, abs=0.05)

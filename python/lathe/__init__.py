"""lathe: audio mastering that lands its loudness target under a true-peak ceiling.

The lathe engine and its processors on numpy arrays::

    import lathe
    master, report = lathe.master(audio, 44100, preset="streaming")
    chain = lathe.Chain([lathe.HighPass(freq_hz=30), lathe.Compressor(ratio=2),
                         lathe.Limiter(ceiling_dbtp=-1)])
    out = chain(audio, 44100)

Audio is a numpy array of shape ``(frames, channels)`` (or ``(frames,)`` for mono), float32 or
float64, full scale at 1.0; results come back in the input's dtype (float64 for other types).
Everything lathe refuses or fails at raises :class:`LatheError` with the message the ``lathe``
command prints. The GIL is released while audio is processed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence, Union

import numpy as np

from . import _native
from ._native import LatheError

__all__ = [
    "LatheError",
    "analyze",
    "master",
    "master_file",
    "render",
    "Processor",
    "Chain",
    "HighPass",
    "LowPass",
    "Bell",
    "Shelf",
    "LowShelf",
    "HighShelf",
    "Notch",
    "Tilt",
    "EQ",
    "Gain",
    "Compressor",
    "Multiband",
    "Saturate",
    "Stereo",
    "Clipper",
    "Limiter",
    "Dither",
    "DynamicEQ",
    "DeEsser",
    "TransientShaper",
    "ResonanceSuppressor",
    "Imager",
]

PathLike = Union[str, "os.PathLike[str]"]
Audio = Union[np.ndarray, PathLike]


# ---------------------------------------------------------------------------------------------
# Arrays


def _check_shape(a: np.ndarray) -> None:
    if a.ndim not in (1, 2):
        raise LatheError(f"audio must have shape (frames, channels) or (frames,), got {a.shape}")
    if a.ndim == 2 and a.shape[1] > a.shape[0] and a.shape[0] <= 8:
        raise LatheError(
            f"audio has shape {a.shape}: that looks like (channels, frames); "
            "lathe takes (frames, channels) (use audio.T)"
        )


def _out_dtype(audio: Any) -> np.dtype:
    dtype = getattr(audio, "dtype", None)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _shaped_like(result: np.ndarray, audio: Any) -> np.ndarray:
    """`result` (frames, channels) in the shape and dtype conventions of the input."""
    if np.ndim(audio) == 1 and result.shape[1] == 1:
        result = result[:, 0]
    return result.astype(_out_dtype(audio), copy=False)


def _check_rate(sample_rate: Any) -> int:
    if sample_rate is None:
        raise LatheError("an array needs its sample_rate")
    rate = int(sample_rate)
    if rate != sample_rate or rate <= 0:
        raise LatheError(f"sample_rate must be a positive whole number of Hz, got {sample_rate}")
    return rate


def _write_wav(path: Path, audio: Any, sample_rate: Any) -> None:
    rate = _check_rate(sample_rate)
    source = np.asarray(audio)
    _check_shape(source)
    # float32 and float64 are written as they are (no converted copy of a long array).
    dtype = source.dtype if source.dtype in (np.float32, np.float64) else np.float64
    frames = np.ascontiguousarray(source.reshape(source.shape[0], -1), dtype=dtype)
    _native.write_float_wav(str(path), frames.reshape(-1), frames.shape[1], rate)


def _read(path: PathLike) -> tuple[np.ndarray, int]:
    data, channels, rate = _native.read_audio(os.fspath(path))
    return data.reshape(-1, channels), rate


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


# ---------------------------------------------------------------------------------------------
# Jobs


def analyze(audio: Audio, sample_rate: int | None = None) -> dict:
    """Measures audio as ``lathe analyze --json`` does: integrated loudness (LUFS, BS.1770-5),
    loudness range, momentary and short-term maxima, sample and true peak, DC, correlation,
    clipping, the 1/3-octave spectrum and warnings.

    ``audio`` is a path to any file lathe reads, or an array with its ``sample_rate``.
    """
    if _is_path(audio):
        return json.loads(_native.analyze_file(os.fspath(audio)))
    with tempfile.TemporaryDirectory(prefix="lathe-") as tmp:
        path = Path(tmp) / "array.wav"
        _write_wav(path, audio, sample_rate)
        result = json.loads(_native.analyze_file(str(path)))
    result["file"] = "<array>"
    return result


def _options(
    preset: str | None,
    target_lufs: float | None,
    ceiling_dbtp: float | None,
    assist: bool,
    deliver: Sequence[str] | None,
    extra: dict,
) -> str:
    options: dict[str, Any] = dict(extra)
    if preset is not None:
        options["preset"] = preset
    if target_lufs is not None:
        options["target_lufs"] = float(target_lufs)
    if ceiling_dbtp is not None:
        options["ceiling_dbtp"] = float(ceiling_dbtp)
    if assist:
        options["assist"] = True
    if deliver:
        options["deliver"] = list(deliver)
    return json.dumps(options)


def master(
    audio: Audio,
    sample_rate: int | None = None,
    preset: str | None = None,
    target_lufs: float | None = None,
    ceiling_dbtp: float | None = None,
    reference: Audio | Sequence[Audio] | None = None,
    assist: bool = False,
    **options: Any,
) -> tuple[np.ndarray, dict]:
    """Masters audio and returns ``(master, report)``.

    The master comes back at the input's sample rate as 32-bit float samples (in the input's
    dtype), at the preset's loudness target (``preset``: default ``"streaming"``, -14 LUFS;
    ``target_lufs`` overrides it) under its true-peak ceiling (``ceiling_dbtp``).
    ``reference``: a path or array (at ``sample_rate``), or a list of them, to match: without
    a preset or target, the master takes the reference's loudness too. ``assist``: let the assistant choose corrective EQ. Further
    keywords are ``lathe master``'s options with underscores (``amount=0.5``,
    ``max_boost_db=6``, ``versions=[...]``). The report is ``lathe master``'s
    ``report.json``: every stage, every render, and the master measured after writing
    (``report["deliverables"][0]``).
    """
    if not _is_path(audio):
        _check_rate(sample_rate)
    refs: list = []
    if reference is not None:
        refs = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    with tempfile.TemporaryDirectory(prefix="lathe-") as tmp:
        tmp_path = Path(tmp)
        if _is_path(audio):
            source = Path(os.fspath(audio))
        else:
            source = tmp_path / "mix.wav"
            _write_wav(source, audio, sample_rate)
        ref_paths = []
        for i, r in enumerate(refs):
            if _is_path(r):
                ref_paths.append(os.fspath(r))
            else:
                p = tmp_path / f"reference{i}.wav"
                _write_wav(p, r, sample_rate)
                ref_paths.append(str(p))
        out = tmp_path / "out"
        opts = _options(preset, target_lufs, ceiling_dbtp, assist, ["wav:32"], options)
        report = json.loads(_native.master_files([str(source)], ref_paths, opts, str(out)))
        delivered = report["deliverables"][0]["path"]
        result, _ = _read(delivered)
    return _shaped_like(result, audio), report


def master_file(
    path: PathLike | Sequence[PathLike],
    out_dir: PathLike,
    preset: str | None = None,
    target_lufs: float | None = None,
    ceiling_dbtp: float | None = None,
    reference: PathLike | Sequence[PathLike] | None = None,
    assist: bool = False,
    deliver: Sequence[str] | None = None,
    force: bool = False,
    **options: Any,
) -> dict:
    """``lathe master PATH -o OUT_DIR``: masters a file (or, given a list, stems) into
    ``out_dir`` with the preset's deliverables (or ``deliver``: ``["wav:24", "mp3:320"]``)
    and returns the report (also written as ``OUT_DIR/report.json``). Files already in
    ``out_dir`` are kept unless ``force``."""
    files = [os.fspath(p) for p in ([path] if _is_path(path) else path)]
    refs: Iterable = []
    if reference is not None:
        refs = [reference] if _is_path(reference) else reference
    opts = _options(preset, target_lufs, ceiling_dbtp, assist, deliver, options)
    return json.loads(
        _native.master_files(files, [os.fspath(r) for r in refs], opts, os.fspath(out_dir), force)
    )


def render(session_path: PathLike, out_dir: PathLike, force: bool = False) -> dict:
    """``lathe render SESSION -o OUT_DIR``: renders a session file; returns the report."""
    return json.loads(_native.render_session(os.fspath(session_path), os.fspath(out_dir), force))


# ---------------------------------------------------------------------------------------------
# Processors


class Processor:
    """One stage of a :class:`Chain`. Call it on an array for a one-off: ``Limiter()(x, 48000)``.

    Each processor is a chain entry of a lathe session file; ``spec()`` gives that entry.
    """

    def spec(self) -> dict:
        raise NotImplementedError

    def _check(self) -> None:
        """Raises LatheError now, not at the first call, when a setting is wrong."""
        _native.NativeChain(json.dumps([self.spec()]))

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return Chain([self])(audio, sample_rate)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec()!r})"


class _Keyed(Processor):
    """A processor whose keywords are its session keys, under ``_key``."""

    _key = ""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self._check()

    def spec(self) -> dict:
        return {self._key: dict(self.settings)}


class _Band(Processor):
    """One EQ band as an EQ of its own (combine bands with :class:`EQ`)."""

    _kind = ""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self._check()

    def band(self) -> dict:
        return {"kind": self._kind, **self.settings}

    def spec(self) -> dict:
        return {"eq": {"bands": [self.band()]}}


class HighPass(_Band):
    """High-pass filter: ``freq_hz``, ``slope_db_oct`` (6…48, default 12), ``family``
    (``butterworth`` or ``linkwitz_riley``)."""

    _kind = "high_pass"

    def __init__(self, freq_hz: float = 30.0, slope_db_oct: int = 12, **settings: Any) -> None:
        super().__init__(freq_hz=freq_hz, slope_db_oct=slope_db_oct, **settings)


class LowPass(_Band):
    """Low-pass filter: ``freq_hz``, ``slope_db_oct`` (6…48, default 12), ``family``."""

    _kind = "low_pass"

    def __init__(self, freq_hz: float = 18000.0, slope_db_oct: int = 12, **settings: Any) -> None:
        super().__init__(freq_hz=freq_hz, slope_db_oct=slope_db_oct, **settings)


class Bell(_Band):
    """Peaking band: ``freq_hz``, ``gain_db``, ``q``."""

    _kind = "bell"

    def __init__(self, freq_hz: float, gain_db: float, q: float = 0.7071, **settings: Any) -> None:
        super().__init__(freq_hz=freq_hz, gain_db=gain_db, q=q, **settings)


class Shelf(_Band):
    """Shelving band: ``kind`` ``"low"`` or ``"high"``, ``freq_hz``, ``gain_db``, ``q``."""

    def __init__(
        self, freq_hz: float, gain_db: float, kind: str = "low", q: float = 0.7071, **settings: Any
    ) -> None:
        if kind not in ("low", "high"):
            raise LatheError(f'Shelf kind must be "low" or "high", got {kind!r}')
        self._kind = f"{kind}_shelf"
        super().__init__(freq_hz=freq_hz, gain_db=gain_db, q=q, **settings)


class LowShelf(Shelf):
    """Low shelf: ``freq_hz``, ``gain_db``, ``q``."""

    def __init__(self, freq_hz: float, gain_db: float, q: float = 0.7071, **settings: Any) -> None:
        super().__init__(freq_hz, gain_db, "low", q, **settings)


class HighShelf(Shelf):
    """High shelf: ``freq_hz``, ``gain_db``, ``q``."""

    def __init__(self, freq_hz: float, gain_db: float, q: float = 0.7071, **settings: Any) -> None:
        super().__init__(freq_hz, gain_db, "high", q, **settings)


class Notch(_Band):
    """Notch: ``freq_hz``, ``q``."""

    _kind = "notch"

    def __init__(self, freq_hz: float, q: float = 4.0, **settings: Any) -> None:
        super().__init__(freq_hz=freq_hz, q=q, **settings)


class Tilt(_Band):
    """Tilt around ``freq_hz``: ``gain_db`` more above, as much less below."""

    _kind = "tilt"

    def __init__(self, freq_hz: float, gain_db: float, **settings: Any) -> None:
        super().__init__(freq_hz=freq_hz, gain_db=gain_db, **settings)


class EQ(Processor):
    """An EQ of several bands (:class:`Bell`, :class:`HighPass`, … or band dicts as in a
    session file), ``phase`` ``"minimum"`` (IIR, no latency) or ``"linear"`` (FIR, 0.34 s of
    taps; the delay is reported by ``Chain.latency_samples`` and compensated by calls on whole
    arrays)."""

    def __init__(self, bands: Sequence[_Band | dict], phase: str = "minimum") -> None:
        self.bands = [b.band() if isinstance(b, _Band) else dict(b) for b in bands]
        self.phase = phase
        self._check()

    def spec(self) -> dict:
        return {"eq": {"bands": self.bands, "phase": self.phase}}


class Gain(_Keyed):
    """Gain: ``gain_db``; ``invert_left``, ``invert_right``, ``swap``."""

    _key = "gain"

    def __init__(self, gain_db: float = 0.0, **settings: Any) -> None:
        super().__init__(gain_db=gain_db, **settings)


class Compressor(_Keyed):
    """Feed-forward compressor: ``threshold_db``, ``ratio``, ``knee_db``, ``attack_ms``,
    ``release_ms``, ``makeup_db``, ``detection`` (``"rms"``/``"peak"``), ``stereo_link``,
    ``sidechain_hpf_hz``, ``mode`` (``"stereo"``/``"mid_side"``…), ``lookahead_ms``."""

    _key = "compressor"


class Multiband(_Keyed):
    """Multiband compressor: ``crossovers_hz`` and ``bands`` (one dict of compressor keys
    per band, plus ``bypass``/``solo``)."""

    _key = "multiband"


class Saturate(_Keyed):
    """Saturation: ``kind`` (``"tape"``, ``"tube"``, ``"soft_clip"``), ``drive_db``, ``mix``,
    ``oversampling``."""

    _key = "saturate"


class Stereo(_Keyed):
    """Stereo width: ``width`` (1 unchanged), ``mono_below_hz``, ``balance``."""

    _key = "stereo"


class Clipper(_Keyed):
    """Oversampled clipper: ``ceiling_db``, ``oversampling``."""

    _key = "clipper"


class Limiter(_Keyed):
    """True-peak limiter (8x oversampled detection): ``ceiling_dbtp``, ``release_ms``,
    ``lookahead_ms``, ``hold_ms``, ``auto_hold``."""

    _key = "limiter"


class Dither(_Keyed):
    """Quantises to ``bits`` (8…24) with ``kind`` dither (``"tpdf"``, ``"tpdf_shaped"``,
    ``"tpdf_lipshitz"``, ``"none"``) from ``seed``."""

    _key = "dither"


class DynamicEQ(_Keyed):
    """Dynamic EQ: ``bands`` whose gain follows their level (session keys)."""

    _key = "dynamic_eq"


class DeEsser(_Keyed):
    """De-esser (session keys of ``deesser``)."""

    _key = "deesser"


class TransientShaper(_Keyed):
    """Transient shaper: ``attack_db``, ``sustain_db`` and the session keys of ``transient``."""

    _key = "transient"


class ResonanceSuppressor(_Keyed):
    """Resonance suppressor (session keys of ``resonance``)."""

    _key = "resonance"


class Imager(_Keyed):
    """Per-band stereo imager (session keys of ``imager``)."""

    _key = "imager"


class Chain:
    """Processors in series. ``chain(audio, sample_rate)`` processes a whole array from
    silence and returns it aligned with the input (the chain's delay taken out, the tail
    flushed); ``chain.process(block, sample_rate)`` processes blocks of a stream, keeping
    state between calls (``reset=True`` starts from silence), each block delayed by
    ``latency_samples(sample_rate)``. Settings are checked when the chain is made."""

    def __init__(self, processors: Sequence[Processor]) -> None:
        self.processors = list(processors)
        self._native = _native.NativeChain(json.dumps([p.spec() for p in self.processors]))

    def latency_samples(self, sample_rate: int) -> int:
        """The chain's delay at ``sample_rate``, frames."""
        return self._native.latency_samples(float(_check_rate(sample_rate)))

    def reset(self) -> None:
        """Forgets the state of earlier blocks."""
        self._native.reset()

    def process(self, block: np.ndarray, sample_rate: int, reset: bool = False) -> np.ndarray:
        """Processes the next block of a stream (1 or 2 channels)."""
        if reset:
            self.reset()
        return self._run(block, _check_rate(sample_rate), 0)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        rate = _check_rate(sample_rate)
        self.reset()
        try:
            return self._run(audio, rate, self.latency_samples(rate))
        finally:
            self.reset()

    def _run(self, audio: Any, rate: int, delay: int) -> np.ndarray:
        """`audio` through the chain into a new array of its dtype (float32 stays float32: no
        float64 copy of the input is made), `delay` frames of output dropped at the start and
        as many silent frames read after the end."""
        source = np.asarray(audio)
        _check_shape(source)
        dtype = np.float32 if source.dtype == np.float32 else np.float64
        frames = np.ascontiguousarray(source.reshape(source.shape[0], -1), dtype=dtype)
        if not np.isfinite(frames).all():
            raise LatheError("the audio holds NaN or infinite samples")
        out = np.empty_like(frames)
        self._native.process(
            frames.reshape(-1), out.reshape(-1), frames.shape[1], float(rate), delay, delay
        )
        return out[:, 0] if source.ndim == 1 else out

    def __repr__(self) -> str:
        return f"Chain({self.processors!r})"

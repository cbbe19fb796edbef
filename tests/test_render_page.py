"""The page renderer: its truth must agree exactly with the image it draws."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgtrace.data import Record
from ecgtrace.leads import LEAD_NAMES
from ecgtrace.render import GridStyle, PageSpec, Rendered, SpecError, render_page
from ecgtrace.render.truth import ALPHA_THRESHOLD

SPECS = {
    "3x4+II pink 200": PageSpec(),
    "6x2+II green dotted 100": PageSpec(
        layout="6x2", dpi=100, grid=GridStyle.named("green", style="dotted")
    ),
    "12x1 red 300": PageSpec(layout="12x1", rhythm_leads=(), dpi=300, grid=GridStyle.named("red")),
    "3x4+3 cabrera no grid blue ink 150": PageSpec(
        rhythm_leads=("II", "V1", "V5"),
        lead_order="cabrera",
        dpi=150,
        grid=GridStyle(style="none"),
        trace_colour=(10, 20, 90),
    ),
    "single V2 orange 50mm/s 20mm/mV": PageSpec(
        layout="single",
        single_lead="V2",
        page_mm=None,
        speed_mm_s=50,
        gain_mm_mv=20,
        grid=GridStyle.named("orange"),
    ),
}


def _palette(spec: PageSpec) -> np.ndarray:
    g = spec.grid
    return np.array([spec.trace_colour, g.paper_colour, g.minor_colour, g.major_colour], float)


def _trace_coloured(page: Rendered) -> np.ndarray:
    """Pixels that are at least half ink, read from the image and the spec's colours alone.

    Each pixel is explained as ink laid with coverage ``a`` over one of the paper and grid
    colours (the one that explains it best, paper first on ties); it is trace-coloured when
    ``a >= 0.5``.
    """
    ink, *backgrounds = _palette(page.truth.spec)
    img = page.image.astype(np.float32)
    best_res = np.full(img.shape[:2], np.inf, dtype=np.float32)
    best_a = np.zeros(img.shape[:2], dtype=np.float32)
    for b in backgrounds:
        d = ink - b
        a = np.clip(((img - b) @ d) / max(float(d @ d), 1e-6), 0.0, 1.0)
        res = np.linalg.norm(img - (b + a[..., None] * d), axis=2)
        better = res < best_res - 1.0
        best_res = np.where(better, res, best_res)
        best_a = np.where(better, a, best_a)
    return best_a >= 0.5


def _not_trace_ink(page: Rendered) -> np.ndarray:
    """Pixels inside label, pulse, separator and header boxes: ink that is not a trace."""
    t = page.truth
    out = np.zeros(t.shape, dtype=bool)
    boxes = [p.box for p in t.pulses] + list(t.marks)
    boxes += [s.label_box for s in t.segments if s.label_box is not None]
    boxes += [t.header_box] if t.header_box is not None else []
    for b in boxes:
        out[b.slices(t.shape)] = True
    return out


@pytest.mark.parametrize("name", list(SPECS))
def test_masks_agree_with_image(record: Record, name: str) -> None:
    page = render_page(record.p_signal, record.fs, SPECS[name], rng=1)
    coloured = _trace_coloured(page)
    union = np.zeros(page.truth.shape, dtype=bool)
    for seg in page.truth.segments:
        m = seg.page_mask(page.truth.shape)
        assert m.sum() > 100, seg.label
        # >= 98 % of each lead's mask pixels are trace-coloured in the image.
        assert coloured[m].mean() >= 0.98, (seg.label, coloured[m].mean())
        union |= m
    # >= 98 % of trace-coloured pixels (outside labels, pulses, ticks, header) are some lead's.
    considered = coloured & ~_not_trace_ink(page)
    assert union[considered].mean() >= 0.98
    # The instance map is the union of the masks.
    assert np.array_equal(page.truth.instance_masks() >= 0, union)


@pytest.mark.parametrize("dpi", [72, 200, 600])
def test_polyline_reads_back_to_the_signal(record: Record, dpi: int) -> None:
    page = render_page(record.p_signal, record.fs, PageSpec(dpi=dpi, lead_order="cabrera"), rng=0)
    for seg in page.truth.segments:
        sign = -1.0 if seg.inverted else 1.0
        mv = (
            sign * (seg.zero_line[:, 0] - seg.polyline[:, 0]) / (seg.gain_mm_mv * seg.px_per_mm_row)
        )
        rmse = np.sqrt(np.mean((mv - seg.signal_mv) ** 2))
        assert rmse < 0.01, (seg.label, rmse)
        # Time from the column through px/mm and the paper speed, 0 s at the trace's start.
        t = (seg.polyline[:, 1] - seg.polyline[0, 1]) / (seg.speed_mm_s * seg.px_per_mm_col)
        assert np.allclose(t + seg.times_s[0], seg.times_s, atol=1e-9)
        # The recording itself, not a copy shifted in time.
        lead = LEAD_NAMES.index(seg.lead)
        idx = np.round(seg.times_s * record.fs).astype(int)
        assert np.array_equal(seg.signal_mv, record.p_signal[idx, lead])


def _steps_record(rng: int) -> tuple[np.ndarray, float]:
    """12 leads of flat steps at random sub-pixel levels (mV), joined by 40 ms ramps."""
    fs = 500.0
    gen = np.random.default_rng(rng)
    t = np.arange(5000) / fs
    starts = np.arange(35) * 0.3
    knots_t = np.stack([starts + 0.04, starts + 0.3], axis=1).ravel()
    sig = np.stack(
        [np.interp(t, knots_t, np.repeat(gen.uniform(-1, 1, 35), 2)) for _ in range(12)], axis=1
    )
    return sig, fs


@pytest.mark.parametrize("dpi", [100, 300])
def test_polyline_runs_through_the_middle_of_the_drawn_mask(dpi: int) -> None:
    """On flat stretches the centroid of each lead's ink, column by column, is its polyline."""
    sig, fs = _steps_record(dpi)
    page = render_page(sig, fs, PageSpec(dpi=dpi), rng=0)
    for seg in page.truth.segments:
        poly = seg.polyline
        a = seg.alpha.astype(float)
        r0, c0 = seg.alpha_origin
        errors = []
        for i in range(10, len(poly) - 10):
            row, col = poly[i]
            if np.ptp(poly[i - 10 : i + 11, 0]) > 1e-9:  # ink from neighbours reaches here
                continue
            column = a[:, round(col) - c0]
            rows = np.arange(column.size) + r0
            near = np.abs(rows - row) < 8
            errors.append(np.sum(rows[near] * column[near]) / np.sum(column[near]) - row)
        assert len(errors) > 100
        assert np.max(np.abs(errors)) < 0.1, seg.label


def test_grid_pitch_is_the_stated_px_per_mm(record: Record) -> None:
    spec = PageSpec(dpi=150, grid=GridStyle.named("red", minor_width_mm=0.1))
    page = render_page(record.p_signal, record.fs, spec, rng=0)
    grey = page.image.astype(float).mean(axis=2)
    profile = 255.0 - grey[400:1200, :].mean(axis=0)
    profile -= profile.mean()
    spectrum = np.abs(np.fft.rfft(profile, n=1 << 16))
    freqs = np.fft.rfftfreq(1 << 16)
    band = (freqs > 1 / 40) & (freqs < 1 / 4)
    pitch = 1 / freqs[band][np.argmax(spectrum[band])]
    assert pitch == pytest.approx(page.truth.px_per_mm_col, rel=0.005)


def test_layout_timing_and_signal_as_plotted(record: Record) -> None:
    p34 = render_page(record.p_signal, record.fs, PageSpec(rhythm_leads=("V1",)), rng=0)
    starts = {s.label: s.t0_s for s in p34.truth.segments if not s.is_rhythm}
    assert starts["I"] == 0 and starts["aVR"] == 2.5 and starts["V1"] == 5 and starts["V6"] == 7.5
    plotted = p34.truth.signal_plotted
    t = np.arange(plotted.shape[0]) / record.fs
    lead_i = plotted[:, LEAD_NAMES.index("I")]
    assert np.all(np.isfinite(lead_i[t < 2.5])) and np.all(np.isnan(lead_i[t >= 2.5]))
    assert np.all(np.isfinite(plotted[:, LEAD_NAMES.index("V1")]))  # rhythm strip: all 10 s
    p62 = render_page(record.p_signal, record.fs, PageSpec(layout="6x2", rhythm_leads=()), rng=0)
    assert {(s.label, s.t0_s, s.t1_s) for s in p62.truth.segments} >= {
        ("I", 0.0, 5.0),
        ("V6", 5.0, 10.0),
    }
    p121 = render_page(record.p_signal, record.fs, PageSpec(layout="12x1"), rng=0)
    assert [s.label for s in p121.truth.segments] == list(LEAD_NAMES)
    assert np.all(np.isfinite(p121.truth.signal_plotted))
    # At 50 mm/s a letter page with 5 mm margins holds 5 s: four columns of 1.25 s.
    fast = render_page(record.p_signal, record.fs, PageSpec(speed_mm_s=50, margin_mm=5), rng=0)
    assert max(s.t1_s for s in fast.truth.segments) == pytest.approx(5.0)
    assert {s.t0_s for s in fast.truth.segments} == {0.0, 1.25, 2.5, 3.75}


def test_cabrera_prints_inverted_avr(record: Record) -> None:
    page = render_page(record.p_signal, record.fs, PageSpec(lead_order="cabrera"), rng=0)
    labels = [s.label for s in page.truth.segments if s.col_index == 0 and not s.is_rhythm]
    assert labels == ["aVL", "I", "-aVR"]
    seg = next(s for s in page.truth.segments if s.label == "-aVR")
    assert seg.lead == "aVR" and seg.inverted
    drawn_up = seg.zero_line[:, 0] - seg.polyline[:, 0]  # px above the baseline
    assert np.corrcoef(drawn_up, -seg.signal_mv)[0, 1] > 0.999


def _spike_record(amplitude_mv: float) -> tuple[np.ndarray, float]:
    """Flat 12 leads; V2 has a narrow QRS-like spike of ``amplitude_mv`` every second."""
    fs = 500.0
    sig = np.zeros((5000, 12))
    t = np.arange(5000) / fs
    for beat in np.arange(0.3, 10, 1.0):
        sig[:, LEAD_NAMES.index("V2")] += amplitude_mv * np.exp(-0.5 * ((t - beat) / 0.012) ** 2)
    return sig, fs


def test_overlap_flag_on_constructed_cases() -> None:
    tight = PageSpec(rhythm_leads=(), overlap=0.8)
    sig, fs = _spike_record(4.0)
    flags = {s.label: s.overlap for s in render_page(sig, fs, tight, rng=0).truth.segments}
    # V2's spike climbs through V1's band and across its trace; nothing reaches V3 or the limbs.
    assert flags["V2"] and flags["V1"]
    assert not any(v for k, v in flags.items() if k not in ("V1", "V2"))
    flat = render_page(np.zeros((5000, 12)), 500.0, tight, rng=0)
    assert not any(s.overlap for s in flat.truth.segments)
    small, fs = _spike_record(1.0)
    roomy = render_page(small, fs, PageSpec(rhythm_leads=()), rng=0)
    assert not any(s.overlap for s in roomy.truth.segments)


def test_overlap_knob_tightens_rows(record: Record) -> None:
    loose = render_page(record.p_signal, record.fs, PageSpec(overlap=0.0), rng=0).truth
    tight = render_page(record.p_signal, record.fs, PageSpec(overlap=1.0), rng=0).truth

    def spacing(t: object) -> float:
        rows = sorted({s.baseline_row for s in t.segments})  # type: ignore[attr-defined]
        return float(np.diff(rows).mean())

    assert spacing(tight) == pytest.approx(0.4 * spacing(loose), rel=1e-6)
    assert sum(s.overlap for s in tight.segments) > sum(s.overlap for s in loose.segments)


def test_same_rng_same_bytes(record: Record) -> None:
    a = render_page(record.p_signal, record.fs, PageSpec(), rng=7)
    b = render_page(record.p_signal, record.fs, PageSpec(), rng=7)
    c = render_page(record.p_signal, record.fs, PageSpec(), rng=8)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.truth.to_json() == b.truth.to_json()
    assert a.image.tobytes() != c.image.tobytes()  # the header's made-up ID differs


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "5x5"}, "unknown layout"),
        ({"dpi": 0}, "dpi must be > 0"),
        ({"dpi": -3}, "dpi must be > 0"),
        ({"rhythm_leads": ("II", "V1", "V5", "V6")}, "at most 3 rhythm"),
        ({"rhythm_leads": ("V7",)}, "unknown lead"),
        ({"row_spacing_mm": 80.0}, "do not fit"),
        ({"overlap": 1.5}, "overlap must be in"),
    ],
)
def test_bad_spec_is_a_clear_error(record: Record, options: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        render_page(record.p_signal, record.fs, replace(PageSpec(), **options))


def test_missing_leads_are_named(record: Record) -> None:
    names = [n for n in LEAD_NAMES if n != "V6"]
    with pytest.raises(SpecError, match="missing leads for layout 3x4: V6"):
        render_page(record.p_signal[:, :11], record.fs, PageSpec(), lead_names=names)
    # A single strip needs only its own lead, spelt the PTB-XL way or the clinical way.
    page = render_page(
        record.p_signal[:, [3]], record.fs, PageSpec(layout="single", single_lead="aVR",
        page_mm=None), lead_names=["AVR"],
    )  # fmt: skip
    assert [s.lead for s in page.truth.segments] == ["aVR"]


def test_pulse_is_one_millivolt_on_the_baseline(page: Rendered) -> None:
    t = page.truth
    assert len(t.pulses) == 4
    for pulse in t.pulses:
        baseline = next(s.baseline_row for s in t.segments if s.row_index == pulse.row_index)
        assert np.allclose(pulse.foot[:, 0], baseline)
        height_px = pulse.foot[0, 0] - pulse.top[0, 0]
        assert height_px == pytest.approx(10.0 * t.px_per_mm_row)  # 1 mV at 10 mm/mV


def test_mask_threshold_is_the_images(page: Rendered) -> None:
    """Pixels at the mask's edge: coverage just above half is ink, just below is paper."""
    seg = page.truth.segments[0]
    r0, c0 = seg.alpha_origin
    edge = (seg.alpha >= ALPHA_THRESHOLD) & (seg.alpha < ALPHA_THRESHOLD + 40)
    rows, cols = np.nonzero(edge)
    coloured = _trace_coloured(page)[rows + r0, cols + c0]
    assert coloured.mean() > 0.9

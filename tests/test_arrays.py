"""The small array idioms every stage shares, on arrays drawn here."""

from __future__ import annotations

import numpy as np

from ecgtrace._arrays import (
    cv_points,
    parabolic_offset,
    perspective_rc,
    rotation_rc,
    swap_axes,
    true_runs,
    vertical_runs,
)


def test_true_runs_are_half_open() -> None:
    starts, stops = true_runs([True, True, False, True, False, False, True])
    assert starts.tolist() == [0, 3, 6] and stops.tolist() == [2, 4, 7]
    empty = true_runs(np.zeros(5, bool))
    assert empty[0].size == 0 and empty[1].size == 0


def test_parabolic_offset_finds_a_parabola_peak() -> None:
    x = np.array([-1.0, 0.0, 1.0])
    y = -((x - 0.3) ** 2)
    assert np.isclose(parabolic_offset(*y), 0.3)
    assert parabolic_offset(1.0, 0.0, 1.0) == 0.0  # a minimum is no peak


def test_rotation_rc_turns_counter_clockwise_about_the_centre() -> None:
    m = rotation_rc(90.0, (10.0, 10.0))
    right_of_centre = m @ np.array([10.0, 11.0, 1.0])
    assert np.allclose(right_of_centre[:2], [9.0, 10.0])  # goes up (rows grow downwards)
    assert np.allclose(m @ np.array([10.0, 10.0, 1.0]), [10.0, 10.0, 1.0])


def test_cv_points_are_col_row_in_sixteenths() -> None:
    pts = cv_points(np.array([[1.0, 2.0], [3.5, 4.25]]))
    assert pts.shape == (2, 1, 2) and pts.dtype == np.int32
    assert pts[:, 0].tolist() == [[32, 16], [68, 56]]


def test_vertical_runs_per_column() -> None:
    mask = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], bool)
    col, start, stop = vertical_runs(mask)
    assert list(zip(col.tolist(), start.tolist(), stop.tolist(), strict=True)) == [
        (0, 0, 2), (0, 3, 4), (1, 1, 4),
    ]  # fmt: skip


def test_perspective_rc_maps_the_corners_in_row_col() -> None:
    src = np.array([[0, 0], [0, 99], [49, 99], [49, 0]], float)
    dst = np.array([[3, 5], [1, 120], [60, 110], [55, 2]], float)
    h = perspective_rc(src, dst)
    hom = np.concatenate([src, np.ones((4, 1))], axis=1) @ h.T
    np.testing.assert_allclose(hom[:, :2] / hom[:, 2:], dst, atol=1e-3)
    np.testing.assert_array_equal(swap_axes(swap_axes(h)), h)

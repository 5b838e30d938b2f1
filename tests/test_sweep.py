"""The eps x T sweep grid ([Re] Fig. 8): cells, labels and the sampling block of a cell."""

from __future__ import annotations

import pytest

from ncsn.errors import NcsnError
from ncsn.settings import check_block
from ncsn.sweep import cell_label, cell_sampling, cells, parse_cell_label


def test_cells_cover_the_grid_eps_major_and_round_trip_through_their_labels():
    block = check_block("figures.sweep", {"eps": [5e-6, 2e-5], "n_steps_each": [10, 100]})
    assert cells(block) == [("5e-06", 10), ("5e-06", 100), ("2e-05", 10), ("2e-05", 100)]
    assert [parse_cell_label(cell_label(*cell)) for cell in cells(block)] == [
        (5e-6, 10),
        (5e-6, 100),
        (2e-5, 10),
        (2e-5, 100),
    ]
    assert len(cells(check_block("figures.sweep", {}))) == 12  # the default 4 x 3 grid (both readings of eps)


def test_a_cell_overrides_eps_and_steps_only():
    sampling = check_block("sampling", {"method": "annealed", "batch_size": 50})
    assert cell_sampling(sampling, "5e-06", "30") == {**sampling, "eps": 5e-6, "n_steps_each": 30}


def test_a_bad_label_says_the_expected_form():
    with pytest.raises(NcsnError, match="EPS,T=PATH"):
        parse_cell_label("fast")

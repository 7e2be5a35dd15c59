"""Unit conversions and their range checks."""

import math

import pytest
import torch

from semcom.errors import SemcomError
from semcom.units import cbr_text, check_snr_db, db_to_linear, linear_to_db


def test_db_round_trip_and_closed_form():
    assert db_to_linear(10.0) == pytest.approx(10.0) and db_to_linear(3.0) == pytest.approx(10 ** 0.3)
    assert linear_to_db(100.0) == pytest.approx(20.0)
    x = torch.tensor([-7.0, 0.0, 13.0])
    assert torch.allclose(linear_to_db(db_to_linear(x)), x, atol=1e-5)


@pytest.mark.parametrize("bad", [float("nan"), math.inf, -21.0, 41.0])
def test_snr_out_of_range_is_refused(bad):
    with pytest.raises(SemcomError):
        check_snr_db(bad)


@pytest.mark.parametrize("cbr, text", [(1 / 32, "1/32"), (1 / 16, "1/16"), (1.0, "1/1"), (3 / 16, "0.1875"),
                                       (48 / 1536, "1/32"), (0.3, "0.3")])
def test_cbr_text(cbr, text):
    assert cbr_text(cbr) == text

import math

import pytest
import torch

from semcom.coding import LearnedScalarQuantizer, bits_to_indices, indices_to_bits, pack_indices, unpack_indices
from semcom.errors import SemcomError


def test_forward_value_is_the_nearest_centre():
    q = LearnedScalarQuantizer(bits=2, init_range=1.5)
    x = torch.tensor([[-2.0, -0.6, 0.1, 0.4, 3.0]])
    x_q, idx = q(x)
    centres = q.centers.detach()
    assert torch.equal(idx, torch.tensor([[0, 1, 2, 2, 3]]))
    assert torch.allclose(x_q, centres[idx])


def test_centres_really_learn_to_fit_the_data():
    """Data clustered at +-0.3 and +-2: after training, the 4 centres sit near the clusters (they moved)."""
    torch.manual_seed(0)
    q = LearnedScalarQuantizer(bits=2, init_range=1.0)
    start = q.centers.detach().clone()
    opt = torch.optim.Adam(q.parameters(), lr=0.05)
    for _ in range(300):
        x = torch.tensor([-2.0, -0.3, 0.3, 2.0])[torch.randint(4, (512,))] + 0.05 * torch.randn(512)
        loss = q.fit_loss(x)
        opt.zero_grad()
        loss.backward()
        assert q.centers.grad.abs().sum() > 0
        opt.step()
    learned = q.sorted_centers().detach()
    assert (learned - start).abs().max() > 0.5
    assert torch.allclose(learned, torch.tensor([-2.0, -0.3, 0.3, 2.0]), atol=0.1)


def test_fit_loss_finds_the_lloyd_max_levels_of_a_gaussian():
    """Closed form: the 8-level Lloyd-Max (MSE-optimal) quantiser of N(0, 1) has levels +-0.2451, +-0.7560,
    +-1.3439, +-2.1519 (Max 1960). Minimising fit_loss on Gaussian samples must find them, from a start far off."""
    torch.manual_seed(0)
    q = LearnedScalarQuantizer(bits=3, init_range=0.5)
    opt = torch.optim.Adam(q.parameters(), lr=0.02)
    for step in range(1500):
        if step == 1000:
            opt.param_groups[0]["lr"] = 0.004
        loss = q.fit_loss(torch.randn(8192))
        opt.zero_grad()
        loss.backward()
        opt.step()
    lloyd_max = torch.tensor([0.2451, 0.7560, 1.3439, 2.1519])
    assert torch.allclose(q.sorted_centers().detach(), torch.cat([-lloyd_max.flip(0), lloyd_max]), atol=0.06)


def test_levels_are_used_in_sorted_order():
    """Index i always means the i-th smallest level, whatever order the parameters drift into (Gray coding
    relies on neighbouring indices being neighbouring values)."""
    q = LearnedScalarQuantizer(bits=2)
    with torch.no_grad():
        q.centers.copy_(torch.tensor([1.0, -1.0, 0.2, -0.2]))
    x_q, idx = q(torch.tensor([-0.9, -0.3, 0.3, 2.0]))
    assert torch.equal(idx, torch.tensor([0, 1, 2, 3]))
    assert torch.allclose(x_q, torch.tensor([-1.0, -0.2, 0.2, 1.0]))
    assert torch.allclose(q.dequantize(idx), x_q)


def test_the_task_gradient_reaches_the_input_but_not_the_levels():
    """Levels moved by the task loss drifted to two used levels on CIFAR-10: only fit_loss moves them."""
    q = LearnedScalarQuantizer(bits=3)
    x = torch.randn(10, requires_grad=True)
    (q(x)[0] ** 2).sum().backward()
    assert q.centers.grad is None or not q.centers.grad.any()
    q.fit_loss(x).backward()
    assert q.centers.grad.abs().sum() > 0


def test_gradient_reaches_the_input():
    q = LearnedScalarQuantizer(bits=3)
    x = torch.randn(10, requires_grad=True)
    q(x)[0].sum().backward()
    assert torch.equal(x.grad, torch.ones(10))  # straight through: the encoder never loses its gradient


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_bit_and_byte_packing_round_trip_and_counts(bits):
    g = torch.Generator().manual_seed(bits)
    idx = torch.randint(2**bits, (2, 37), generator=g)
    b = indices_to_bits(idx, bits)
    assert b.shape == (2, 37 * bits) and set(b.unique().tolist()) <= {0, 1}
    assert torch.equal(bits_to_indices(b, bits), idx)
    data = pack_indices(idx[0], bits)
    assert len(data) == math.ceil(37 * bits / 8)
    assert torch.equal(unpack_indices(data, bits, 37), idx[0])


def test_bad_inputs():
    with pytest.raises(SemcomError):
        LearnedScalarQuantizer(bits=0)
    q = LearnedScalarQuantizer(bits=2)
    with pytest.raises(SemcomError, match="NaN"):
        q(torch.tensor([float("nan")]))
    with pytest.raises(SemcomError, match="indices"):
        q.dequantize(torch.tensor([4]))
    with pytest.raises(SemcomError, match="expected"):
        unpack_indices(b"\x00", 3, 37)  # truncated payload
    with pytest.raises(SemcomError, match="whole"):
        bits_to_indices(torch.zeros(1, 7), 3)


def test_gray_code_is_a_bijection_with_single_bit_neighbours():
    from semcom.coding import from_gray, to_gray

    idx = torch.arange(256)
    g = to_gray(idx)
    assert torch.equal(from_gray(g), idx) and len(set(g.tolist())) == 256
    assert all(bin(int(a) ^ int(b)).count("1") == 1 for a, b in zip(g[:-1], g[1:]))

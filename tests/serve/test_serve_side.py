"""The served hybrid JSCC prices and sends its power scale on the transmitter's side link, as in process (issue 20
item 3): equal channel uses and details when the block arrives, and the same lost image when it does not."""

import torch

from semcom.channels import AWGN
from semcom.digital.transport import Delivery
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.jscc.transmitter import JSCCTransmitter
from semcom.serve.client import OffloadClient
from semcom.serve.models import HybridSplit, Served, identity
from serve_support import TOKEN, start_server  # noqa: F401 (fixture)

SNR = 10.0


class LostSide:
    kind = "ldpc"

    def channel_uses(self, payload_bits, snr_db):
        return 960

    def send(self, data, channel, snr_db, generator=None):
        return Delivery(received=None, mcs="qpsk-1/4", codewords=1, codewords_failed=1, channel_uses=960,
                        reason="decode failed")


def served(side_link=None) -> Served:
    torch.manual_seed(0)
    model = HybridJSCC(HybridConfig(width=8))
    for p in model.parameters():
        p.data.add_(0.01 * torch.randn_like(p))
    split = HybridSplit(JSCCTransmitter(model, AWGN(), 1 / 16, side_link=side_link))
    return Served("jscc", split, *identity("jscc", split))


def photo(seed=0):
    low = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=(48, 64), mode="bilinear")[0].clamp(0, 1)


def test_served_hybrid_spends_the_side_blocks_channel_uses(start_server):
    s = served()
    server = start_server(s)
    x = photo()
    with OffloadClient(server.url, s, TOKEN) as client:
        tx = client.offload(x, SNR, True, torch.Generator().manual_seed(1))
        clean = client.offload(x, SNR, channel=False)
    want = s.scheme.transmitter.transmit(x, SNR, torch.Generator().manual_seed(1))
    assert torch.equal(tx.x_hat, want.x_hat) and (tx.channel_uses, tx.ok, tx.details) == (want.channel_uses, True,
                                                                                         want.details)
    assert want.details["side_uses"] == 480 and want.channel_uses == 96 * 12 // 2 + 480  # 16-QAM 1/2 at 10 dB
    assert clean.channel_uses == want.channel_uses and clean.details == want.details  # priced without a channel too


def test_a_lost_side_block_is_the_same_lost_image_served_and_in_process(start_server):
    s = served(LostSide())
    server = start_server(s)
    x = photo(1)
    with OffloadClient(server.url, s, TOKEN) as client:
        tx = client.offload(x, SNR, True, torch.Generator().manual_seed(2))
    want = s.scheme.transmitter.transmit(x, SNR, torch.Generator().manual_seed(2))
    assert not want.ok and torch.equal(want.x_hat, torch.full_like(x, 0.5))
    assert torch.equal(tx.x_hat, want.x_hat) and (tx.channel_uses, tx.ok, tx.details) == (want.channel_uses, False,
                                                                                         want.details)
    assert server.state.metrics.items == 0  # nothing went to the server

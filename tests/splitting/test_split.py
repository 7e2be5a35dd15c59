import pytest
import torch
from torch import nn

from semcom.errors import SemcomError
from semcom.splitting import CifarResNet, SplitModel, model_stages

FEATURES = {  # README architecture: per-example head output of a ResNet-20 on 3x32x32
    "preprocess": (3, 32, 32), "conv1": (16, 32, 32), "bn1": (16, 32, 32), "relu": (16, 32, 32),
    "layer1": (16, 32, 32), "layer2": (32, 16, 16), "layer3": (64, 8, 8), "pool": (64, 1, 1), "flatten": (64,),
    "linear": (10,),
}


@pytest.fixture(scope="module")
def resnet():
    """ResNet-20 with random weights and non-trivial BN statistics, in eval mode."""
    torch.manual_seed(0)
    model = CifarResNet(20)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def test_head_then_tail_equals_the_model_at_every_split_point(resnet):
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = resnet(x)
        assert SplitModel(resnet, "linear").names == list(FEATURES)
        for name, shape in FEATURES.items():
            split = SplitModel(resnet, name)
            z = split.head(x)
            assert split.feature_shape() == shape and z.shape == (4, *shape), name
            assert torch.equal(split.tail(z), reference), name
            assert torch.equal(split(x), reference), name


def test_head_and_tail_share_the_model_parameters(resnet):
    split = SplitModel(resnet, "layer1")
    head, tail = {id(p) for p in split.head.parameters()}, {id(p) for p in split.tail.parameters()}
    assert not head & tail and head | tail == {id(p) for p in resnet.parameters()}
    assert split.head.stages.conv1 is resnet.conv1 and split.tail.stages.linear is resnet.linear


def test_unknown_split_point_lists_the_valid_names(resnet):
    with pytest.raises(SemcomError, match="unknown split point 'layer4'; valid names: preprocess, conv1, .*linear"):
        SplitModel(resnet, "layer4")
    with pytest.raises(SemcomError, match="unknown split point 'layer1.0'"):
        SplitModel(resnet, "layer1.0")


def test_wrong_input_and_feature_shapes_are_rejected(resnet):
    split = SplitModel(resnet, "layer2")
    # The model itself would accept 64x64 (global pooling) and give plausible logits; the split does not.
    with pytest.raises(SemcomError, match=r"head expects input \[B, 3, 32, 32\], got \[2, 3, 64, 64\]"):
        split.head(torch.rand(2, 3, 64, 64))
    with pytest.raises(SemcomError, match=r"head expects input \[B, 3, 32, 32\], got \[3, 32, 32\]"):
        split.head(torch.rand(3, 32, 32))
    with pytest.raises(
        SemcomError, match=r"tail after 'layer2' expects features \[B, 32, 16, 16\], got \[2, 16, 32, 32\]"
    ):
        split.tail(torch.rand(2, 16, 32, 32))
    with pytest.raises(SemcomError, match="torch.Tensor"):
        split.tail([1.0])
    # uint8 pixels would be read as values up to 255 (silently wrong, or an error deep inside torch)
    with pytest.raises(SemcomError, match=r"head expects input as floating point .*torch.uint8"):
        split.head(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(SemcomError, match="without NaN"):
        split.head(torch.full((1, 3, 32, 32), float("nan")))


def test_feature_shape_for_other_inputs_leaves_statistics_and_mode_alone():
    model = CifarResNet(20).train()
    split = SplitModel(model, "layer2")
    before = model.bn1.running_mean.clone()
    assert split.feature_shape((3, 64, 64)) == (32, 32, 32)
    assert torch.equal(model.bn1.running_mean, before) and model.training and split.head.training
    with pytest.raises(SemcomError, match="head cannot take input"):
        split.feature_shape((1, 32, 32))


def test_own_models_plug_in_as_sequential_or_stage_list():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    x = torch.rand(5, 1, 8, 8)
    split = SplitModel(net, "1", input_shape=(1, 8, 8))
    assert split.feature_shape() == (4, 8, 8) and torch.equal(split(x), net(x))

    stages = [("encode", net[0]), ("act", net[1]), ("classify", nn.Sequential(net[2], net[3]))]
    split = SplitModel(stages, "act", input_shape=(1, 8, 8))
    assert split.names == ["encode", "act", "classify"] and torch.equal(split.tail(split.head(x)), net(x))

    with pytest.raises(SemcomError, match="does not declare its input shape"):
        SplitModel(net, "1")
    with pytest.raises(SemcomError, match="cannot split Linear: give it a stages"):
        SplitModel(nn.Linear(2, 2), "x", input_shape=(2,))
    with pytest.raises(SemcomError, match="appears twice"):
        model_stages([("a", nn.ReLU()), ("a", nn.ReLU())])
    with pytest.raises(SemcomError, match="without '.'"):
        model_stages([("a.b", nn.ReLU())])
    with pytest.raises(SemcomError, match="at least one stage"):
        model_stages([])
    with pytest.raises(SemcomError, match="input_shape must be positive"):
        SplitModel(net, "1", input_shape=(1, 0, 8))


def test_hugging_face_vit_split_after_embeddings_and_first_layers():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=64, num_labels=5,
    )
    model = transformers.ViTForImageClassification(config).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        reference = model(pixel_values=x).logits
        names = SplitModel(model, "embeddings").names
        assert names == ["embeddings", "layer1", "layer2", "layer3", "layernorm", "cls", "classifier"]
        for name in names:
            split = SplitModel(model, name)
            assert torch.equal(split.tail(split.head(x)), reference), name
        split = SplitModel(model, "layer2")  # embeddings + the first 2 encoder layers on the device
        assert split.input_shape == (3, 16, 16) and split.feature_shape() == (17, 32)  # [CLS] + 16 patches
        assert split.head(x).shape == (2, 17, 32)
        with pytest.raises(SemcomError, match=r"expects input \[B, 3, 16, 16\], got \[2, 3, 32, 32\]"):
            split.head(torch.randn(2, 3, 32, 32))


def test_hugging_face_resnet_split_needs_an_input_shape():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.ResNetConfig(
        num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", num_labels=4,
    )
    model = transformers.ResNetForImageClassification(config).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        reference = model(pixel_values=x).logits
        for name in ("embedder", "stage1", "stage2", "pooler", "classifier"):
            split = SplitModel(model, name, input_shape=(3, 32, 32))
            assert torch.equal(split(x), reference), name
        assert SplitModel(model, "stage2", input_shape=(3, 32, 32)).feature_shape() == (16, 4, 4)
    with pytest.raises(SemcomError, match="ResNetForImageClassification does not declare its input shape"):
        SplitModel(model, "stage1")

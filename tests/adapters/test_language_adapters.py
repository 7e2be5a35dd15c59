"""The language scheme's adapters load through from_pretrained: tiny random models saved in the test, then loaded
and run exactly as real weights would be (BLIP captioner, CLIP score, Stable Diffusion, causal-LM rewriter)."""

import pytest
import torch

from semcom.adapters import SentenceEncoder, bundled_minilm
from semcom.adapters.rewriter import CausalLMRewriter, IdentityRewriter, Rewriter
from semcom.adapters.vision_language import BlipCaptioner, Captioner, ClipScorer, StableDiffusion, TextToImage
from semcom.errors import SemcomError

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tokenizer():
    tok = transformers.AutoTokenizer.from_pretrained(bundled_minilm())
    tok.model_max_length = 16
    return tok


def test_bundled_sentence_encoder_loads_offline_and_ranks_similarity():
    enc = SentenceEncoder()
    sims = enc.similarity(["a dog runs on grass", "a plate of pasta", ""], "a black dog is running through the grass")
    assert sims[0] > 0.5 > sims[1] and sims[2] == 0
    assert enc.word_attention(["a", "dog"]).shape == (2,)


def test_missing_model_directory_is_a_one_line_error(tmp_path):
    for make in (SentenceEncoder, BlipCaptioner, ClipScorer, CausalLMRewriter):
        with pytest.raises(SemcomError, match="no model in"):
            make(tmp_path / "nothing")
    with pytest.raises(SemcomError, match="no diffusers pipeline"):
        StableDiffusion(tmp_path)


def test_blip_captioner_from_a_tiny_random_config(tmp_path, tokenizer):
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor

    text = {"vocab_size": tokenizer.vocab_size, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 37, "encoder_hidden_size": 32, "bos_token_id": tokenizer.cls_token_id,
            "sep_token_id": tokenizer.sep_token_id, "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.sep_token_id}
    vision = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37,
              "image_size": 32, "patch_size": 8}
    torch.manual_seed(0)
    BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision)).save_pretrained(tmp_path)
    BlipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    captioner = BlipCaptioner(tmp_path, max_new_tokens=4)
    assert isinstance(captioner, Captioner)
    x = torch.rand(3, 40, 48, generator=torch.Generator().manual_seed(0))
    caption = captioner.caption(x)
    assert isinstance(caption, str) and caption == captioner.caption(x)  # greedy: deterministic
    with pytest.raises(SemcomError, match="expected an image"):
        captioner.caption(torch.rand(40, 48))


def test_clip_score_from_a_tiny_random_config(tmp_path, tokenizer):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    text = {"vocab_size": tokenizer.vocab_size, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 37, "max_position_embeddings": 16, "projection_dim": 16}
    vision = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37,
              "image_size": 32, "patch_size": 8, "projection_dim": 16}
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(tmp_path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    scorer = ClipScorer(tmp_path)
    x = torch.rand(3, 40, 40)
    s = scorer.score(x, "a dog on grass")
    assert 0 <= s <= 100 and s == scorer.score(x, "a dog on grass")


def test_causal_lm_rewriter_from_a_tiny_random_config(tmp_path, tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=tokenizer.vocab_size, n_embd=16, n_layer=1, n_head=2, n_positions=128,
                               bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
                    ).save_pretrained(tmp_path)
    tok = transformers.AutoTokenizer.from_pretrained(bundled_minilm())
    tok.save_pretrained(tmp_path)
    rewriter = CausalLMRewriter(tmp_path, max_new_tokens=3)
    assert isinstance(rewriter, Rewriter) and isinstance(IdentityRewriter(), Rewriter)
    out = rewriter.rewrite("a dog runs")
    assert isinstance(out, str) and out.strip() and out == rewriter.rewrite("a dog runs")
    assert IdentityRewriter().rewrite("a dog runs") == "a dog runs"


def test_stable_diffusion_from_a_tiny_random_pipeline(tmp_path, tokenizer):
    diffusers = pytest.importorskip("diffusers")
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4)
    vae = diffusers.AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                                  down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                                  norm_num_groups=4)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=16))
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                             scheduler=diffusers.DDIMScheduler(clip_sample=False), safety_checker=None,
                                             feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(tmp_path)
    t2i = StableDiffusion(tmp_path, steps=2, height=16, width=16)
    assert isinstance(t2i, TextToImage)
    a, b = t2i.generate("a dog", seed=100), t2i.generate("a dog", seed=100)
    assert a.shape == (3, 16, 16) and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    assert not torch.equal(a, t2i.generate("a dog", seed=1))

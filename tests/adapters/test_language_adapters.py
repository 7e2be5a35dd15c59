"""The language scheme's adapters load through from_pretrained: tiny random models saved in the test, then loaded
and run exactly as real weights would be (BLIP captioner, CLIP score, Stable Diffusion, causal-LM rewriter)."""

import pytest
import torch

from semcom.adapters import SentenceEncoder, bundled_minilm
from semcom.adapters.rewriter import CausalLMRewriter, IdentityRewriter, Rewriter
from semcom.adapters.vision_language import BlipCaptioner, Captioner, ClipScorer, StableDiffusion, TextToImage
from semcom.errors import SemcomError

transformers = pytest.importorskip("transformers")


def minilm_tokenizer():
    """The bundled MiniLM (BERT) tokenizer, limited to 16 tokens: a real vocabulary for the tiny models."""
    tok = transformers.AutoTokenizer.from_pretrained(bundled_minilm())
    tok.model_max_length = 16
    return tok


@pytest.fixture(scope="module")
def tokenizer():
    return minilm_tokenizer()


def clip_tokenizer():
    """A real ``CLIPTokenizer`` (byte-level BPE, lower-cases, ``</w>`` word ends) on a tiny vocabulary: the letters,
    and merges for "dog" and "grass" only, so other words split into several sub-tokens."""
    from transformers import CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["<|startoftext|>", "<|endoftext|>", *letters, *(c + "</w>" for c in letters),
             "do", "dog</w>", "gr", "gra", "gras", "grass</w>"]
    merges = [("d", "o"), ("do", "g</w>"), ("g", "r"), ("gr", "a"), ("gra", "s"), ("gras", "s</w>")]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=merges)


def save_tiny_clip(path, tok, max_positions: int = 16):
    """A random CLIP (1 layer, width 32) with ``tok`` and a 32x32 image processor, saved in ``path``."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    text = {"vocab_size": len(tok), "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 37, "max_position_embeddings": max_positions, "projection_dim": 16,
            "bos_token_id": tok.bos_token_id or tok.cls_token_id, "eos_token_id": tok.eos_token_id or tok.sep_token_id,
            "pad_token_id": tok.pad_token_id}
    vision = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37,
              "image_size": 32, "patch_size": 8, "projection_dim": 16}
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def save_tiny_blip(path, tok):
    """A random BLIP captioner (1 layer, width 32, 32x32 images) with the BERT tokenizer ``tok``."""
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor

    text = {"vocab_size": tok.vocab_size, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 37, "encoder_hidden_size": 32, "bos_token_id": tok.cls_token_id,
            "sep_token_id": tok.sep_token_id, "pad_token_id": tok.pad_token_id, "eos_token_id": tok.sep_token_id}
    vision = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37,
              "image_size": 32, "patch_size": 8}
    torch.manual_seed(0)
    BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision)).save_pretrained(path)
    BlipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def save_tiny_stable_diffusion(path, tok):
    """A random Stable Diffusion pipeline (UNet 8/16 channels, 2-block VAE: 16x16 images) with ``tok``."""
    import diffusers
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4)
    vae = diffusers.AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                                  down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                                  norm_num_groups=4)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=16))
    scheduler = diffusers.DDIMScheduler(clip_sample=False, steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=scheduler,
                                             safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(path)
    return path


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
    captioner = BlipCaptioner(save_tiny_blip(tmp_path, tokenizer), max_new_tokens=4)
    assert isinstance(captioner, Captioner)
    x = torch.rand(3, 40, 48, generator=torch.Generator().manual_seed(0))
    caption = captioner.caption(x)
    assert isinstance(caption, str) and caption == captioner.caption(x)  # greedy: deterministic
    with pytest.raises(SemcomError, match="expected an image"):
        captioner.caption(torch.rand(40, 48))


def test_clip_score_from_a_tiny_random_config(tmp_path, tokenizer):
    scorer = ClipScorer(save_tiny_clip(tmp_path, tokenizer))
    x = torch.rand(3, 40, 40)
    s = scorer.score(x, "a dog on grass")
    assert 0 <= s <= 100 and s == scorer.score(x, "a dog on grass")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return ClipScorer(save_tiny_clip(tmp_path_factory.mktemp("clip"), clip_tokenizer()))


def test_clip_word_attention_is_the_end_token_attention_summed_over_sub_tokens(clip):
    words = ["A", "dog", "runs", "on", "grass"]  # "runs" and "on" are several sub-tokens, "dog" and "grass" one
    att = clip.word_attention(words)
    model, _, tok = clip._load()
    ids = tok(" ".join(words).lower(), return_tensors="pt")
    tokens = tok.convert_ids_to_tokens(ids["input_ids"][0])
    assert tokens == ["<|startoftext|>", "a</w>", "dog</w>", "r", "u", "n", "s</w>", "o", "n</w>", "grass</w>",
                      "<|endoftext|>"]
    last = model.text_model(**ids, output_attentions=True).attentions[-1][0].mean(0)[-1]  # end token's row
    expected = torch.stack([last[1], last[2], last[3:7].sum(), last[7:9].sum(), last[9]])
    assert torch.allclose(att, expected, atol=1e-6)
    assert 0 < att.sum() < 1  # the start and end tokens take the rest
    batch = clip.word_attention_batch([["dog"], words])  # padding changes nothing
    assert torch.allclose(batch[1], att, atol=1e-6) and batch[0].shape == (1,)


def test_clip_word_attention_gives_words_past_the_token_limit_zero(clip):
    words = ["dog"] * 20  # 22 tokens with start and end; the tiny CLIP keeps 16
    att = clip.word_attention(words)
    assert att.shape == (20,) and (att[:14] > 0).all() and (att[14:] == 0).all()


def test_orderer_takes_attention_from_clip_when_given(clip):
    from semcom.schemes.language import Orderer

    words = ["a", "dog", "runs", "on", "grass", "today"]
    orderer = Orderer(attention=clip)
    att = clip.word_attention(words)
    assert orderer.order("sender-attention", words) == sorted(range(6), key=lambda i: (-float(att[i]), i))
    alone = torch.stack([a[0] for a in clip.word_attention_batch([[w] for w in words])])
    assert orderer.order("receiver-attention", words)[0] == int(torch.argmax(alone))
    assert "CLIP" in orderer.describe()["attention"] and "sentence" in Orderer().describe()["attention"]


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
    pytest.importorskip("diffusers")
    save_tiny_stable_diffusion(tmp_path, tokenizer)
    t2i = StableDiffusion(tmp_path, steps=2)
    assert isinstance(t2i, TextToImage)
    a, b = t2i.generate("a dog", seed=100), t2i.generate("a dog", seed=100)
    assert a.shape == (3, 16, 16) and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1  # the pipeline's own size
    assert not torch.equal(a, t2i.generate("a dog", seed=1))
    assert StableDiffusion(tmp_path, steps=2, height=24, width=32).generate("a dog").shape == (3, 24, 32)

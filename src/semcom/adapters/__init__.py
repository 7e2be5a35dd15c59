"""Large pretrained models behind narrow interfaces (core layer): a sentence encoder with word attention, an image
captioner, a text-to-image generator, a CLIP scorer and a text rewriter. Each has real ``from_pretrained`` loading
code, loads its weights lazily on first use and is tested on a tiny random config built in the tests; schemes
depend on the interface, not on the model.
"""

from semcom.adapters.text import SentenceEncoder, bundled_minilm

__all__ = ["SentenceEncoder", "bundled_minilm"]  # the others: semcom.adapters.rewriter, semcom.adapters.vision_language

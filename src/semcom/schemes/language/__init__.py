"""Language-oriented semantic communication (seed 002): a caption sent word by word over a real link, in an order
chosen by a policy (nouns, SSC, attention, oracle, SKD, ...); the receiver's prompt grows each round."""

from semcom.schemes.language.link import LINKS, TextLink, split_words
from semcom.schemes.language.policies import POLICIES, Orderer
from semcom.schemes.language.progressive import (
    THRESHOLD,
    Round,
    reach_summary,
    rounds_to_reach,
    run_rounds,
    word_error_rate,
)
from semcom.schemes.language.scheme import LanguageScheme

__all__ = ["LINKS", "POLICIES", "THRESHOLD", "LanguageScheme", "Orderer", "Round", "TextLink", "reach_summary",
           "rounds_to_reach", "run_rounds", "split_words", "word_error_rate"]

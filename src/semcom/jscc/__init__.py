"""Learned joint source-channel coding for images."""

from semcom.jscc.gdn import GDN
from semcom.jscc.models import FACTOR, JSCC, AttentionFeature, JSCCConfig, build_jscc

__all__ = ["AttentionFeature", "FACTOR", "GDN", "JSCC", "JSCCConfig", "build_jscc"]

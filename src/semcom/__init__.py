"""semcom: semantic communication on one correct channel core.

The Python API (``semcom.experiments.api``) is loaded on first use of one of its names, so ``import semcom`` stays fast and
imports no torch::

    import semcom
    scheme = semcom.load_scheme("jscc", channel="awgn", cbr=1 / 16)
    tx = semcom.transmit(scheme, semcom.load_image("photo.png"), snr_db=7)
"""

from semcom.errors import SemcomError

__version__ = "0.1.0"

API = (
    "AWGN", "CHANNELS", "JSCCTransmitter", "Rayleigh", "Rician", "Scheme", "Transmission", "build_channel",
    "demo_images", "evaluate", "list_images", "load_image", "load_jscc", "load_scheme", "ms_ssim", "normalize_power",
    "psnr_db", "save_image", "scheme_names", "transmit",
)
__all__ = ["SemcomError", "__version__", *API]


def __getattr__(name: str):
    """PEP 562: ``semcom.NAME`` for a name of ``API`` imports ``semcom.experiments.api`` (this lazy import is the one
    upward arrow ``semcom.layers.LAZY_UPWARD`` allows)."""
    if name in API:
        import importlib

        api = importlib.import_module("semcom.experiments.api")
        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'semcom' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))

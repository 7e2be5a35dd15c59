"""GESCO (seed 001, issue 16): send the semantic label map, regenerate the image with a conditional diffusion model.

Modules (imported on use; this package imports nothing itself):

- ``maps``: three transmitters of a label map with exact channel uses — ``MapJSCC`` (learned), ``AnalogOneHot``
  (reduced-resolution one-hot, the seed's cleaning or a learned ``MapDenoiser``), ``DigitalMap`` (lossless
  compression + LDPC + QAM via the core's ``send_bytes``).
- ``train_maps``: training ``MapJSCC`` and the analog denoiser on CamVid train maps, on ``semcom.training.Run``.
- ``diffusion``, ``train_diffusion``: the generative receiver (semantic diffusion model) and its trainer.
"""

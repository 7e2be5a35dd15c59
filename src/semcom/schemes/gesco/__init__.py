"""GESCO (seed 001, issue 16): send the semantic label map, regenerate the image with a conditional diffusion model.

Modules (imported on use; this package imports nothing itself):

- ``maps``: three transmitters of a label map with exact channel uses — ``MapJSCC`` (learned), ``AnalogOneHot``
  (reduced-resolution one-hot, the seed's cleaning or a learned ``MapDenoiser``), ``DigitalMap`` (lossless
  compression + LDPC + QAM via the core's ``send_bytes``).
- ``train_maps``: training ``MapJSCC`` and the analog denoiser on CamVid train maps, on ``semcom.training.Run``.
- ``diffusion``, ``train_diffusion``: the generative receiver (semantic diffusion model) and its trainer.
- ``scheme``: ``GescoScheme`` (the ``semcom.types.Scheme``: a label map [H, W] in, the image generated from the
  received map out, at the pixel JSCC's channel uses), ``build_gesco`` (from names and files), the shipped-model
  lookups (``shipped_diffusion``, ``shipped_map_model``: None until trained models ship) and ``ChannelCorruption``
  (train the diffusion model on maps really received through a transmitter at random SNRs).
- ``evaluate``: the evaluation harness (map pixel accuracy / mIoU; with a diffusion model, segmenter mIoU on the
  generated images, FID-/KID-EffNet, PSNR / MS-SSIM, sampling time); ``demo``: the demo report's section.
"""

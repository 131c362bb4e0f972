"""Why the gan_mri recipe collapsed: three probes with the package's networks on the bundle's slices, and the
loss comparison of the collapsed runs.

- ``python -m studies.gan_collapse.probes discriminator --checkpoint CKPT``: D trained alone against a frozen
  (collapsed) generator: how fast each D variant tells its images from real slices;
- ``python -m studies.gan_collapse.probes plain_loop``: a plain PyTorch GAN loop (no package engine) with the same
  networks and data: does collapse come from the engine?
- ``python -m studies.gan_collapse.probes generator_fit``: the generator fitted to (latent, slice) pairs with MSE:
  can it represent different slices at all?

Results and commands: ``bundles/gan_mri/docs/studies/diversity_term.md``. The loss comparison these runs followed,
``python -m monai.bundle run --config_file studies/gan_collapse/compare.json`` (:mod:`studies.gan_collapse.compare`),
is archived in ``bundles/gan_mri/docs/studies/loss_comparison_collapsed.md``.
"""

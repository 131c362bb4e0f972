"""Studies beside the library: the code that only one study needs, each study a folder with its README.

Not installed with ``monai_genmed``: run from the repository root (``python -m studies.<study>.<script>``, or a
bundle config that imports ``studies.<study>``), as fastMRI runs ``fastmri_examples/<study>/`` beside ``fastmri/``.
"""

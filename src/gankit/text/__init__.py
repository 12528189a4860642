"""Text for the text-to-image GANs (issue 17): the built-in caption sets
(:mod:`gankit.text.captions`), the caption encoder phi(t) trained inside gankit
(:mod:`gankit.text.encoder`) and typed captions turned into embeddings (:func:`embed_captions`)."""

from gankit.text.embed import embed_captions

__all__ = ["embed_captions"]

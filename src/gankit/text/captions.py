"""Built-in caption sets, generated offline from each image's class and attributes measured on
the image itself (issue 17; Reed et al. 2016, "Generative Adversarial Text to Image
Synthesis", train on (image, description) pairs; here the descriptions are made, not typed).

The recipe, exactly (``FASHION`` and ``DIGITS`` below are the data):

1. Item pixels: grey value > ``ITEM_LEVEL`` (of 255) on the native-size uint8 image.
2. Attributes, per image:
   - fashion ``b`` (brightness): mean grey value of the item pixels -> "dark" / "light";
   - fashion ``s`` (size): the item's area, its number of item pixels -> "small" / "large";
   - digits ``w`` (ink): the summed grey value -> "thin" / "thick".
3. Thresholds per class, at the tertiles (``QUANTILES``) of the TRAINING split's values: at or
   below the lower one is the low word, at or above the upper one the high word, the middle
   third is left unlabelled (no word for that attribute), so every class has both words and
   the two words name clearly different images.
4. Phrasings: ``templates`` with slots ``{c}`` (class word) and one per attribute; a
   template is usable for an image when every attribute slot it has is labelled. "a" becomes
   "an" before a vowel. Training uses ``templates``; ``held_out_templates`` never occur in
   training (their words all do, in other orders and combinations).
5. Held-out combinations: for a (class, word, word) triple of ``held_out_combos`` no training
   caption names both words of an image that has them: such images are captioned with
   templates naming at most one of the two attributes.
6. Draws: the template of each caption is drawn uniformly among the usable ones by numpy's
   ``default_rng(seed)`` (:func:`draw_captions`), deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ITEM_LEVEL = 25  # grey level above which a pixel belongs to the item (background is 0)
QUANTILES = (1 / 3, 2 / 3)  # class-wise tertiles: low third / unlabelled middle / high third


@dataclass(frozen=True)
class CaptionSet:
    name: str
    class_words: tuple[str, ...]
    attributes: dict[str, tuple[str, str]]  # slot -> (low word, high word)
    templates: tuple[str, ...]  # training phrasings
    held_out_templates: tuple[str, ...]  # never used in training
    held_out_combos: tuple[tuple[str, str, str], ...] = ()  # (class word, word, word)

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(self.attributes)

    def describe(self) -> dict:
        """Everything that defines the captions (part of the text encoder's cache key)."""
        return {
            "name": self.name,
            "class_words": list(self.class_words),
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "templates": list(self.templates),
            "held_out_templates": list(self.held_out_templates),
            "held_out_combos": [list(c) for c in self.held_out_combos],
            "item_level": ITEM_LEVEL,
            "quantiles": list(QUANTILES),
        }


FASHION = CaptionSet(
    name="fashion-captions",
    class_words=(
        "t-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ),  # fmt: skip
    attributes={"b": ("dark", "light"), "s": ("small", "large")},
    templates=(
        "a {c}",
        "picture of a {c}",
        "a {b} {c}",
        "photo of a {b} {c}",
        "a {c} that is {b}",
        "a {s} {c}",
        "a {c}, {s}",
        "a {s} {b} {c}",
        "picture of a {s} {b} {c}",
        "a {c}, {b} and {s}",
    ),
    held_out_templates=(
        "picture of a {c} that is {b}",
        "photo of a {c} that is {s}",
        "{c}, {s} and {b}",
    ),
    held_out_combos=(
        ("ankle boot", "dark", "small"),
        ("t-shirt", "light", "large"),
        ("sneaker", "dark", "large"),
        ("dress", "light", "small"),
        ("bag", "dark", "small"),
    ),
)

DIGITS = CaptionSet(
    name="digits-captions",
    class_words=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    attributes={"w": ("thin", "thick")},
    templates=("a {c}", "the digit {c}", "a {w} {c}", "a {c} that is {w}"),
    held_out_templates=("the digit {c}, {w}",),
)

CAPTION_SETS = {cs.name: cs for cs in (FASHION, DIGITS)}


def measure(caption_set: CaptionSet, images: np.ndarray) -> dict[str, np.ndarray]:
    """Raw attribute values of uint8 (N, H, W) images: slot -> float64 (N,)."""
    images = np.asarray(images, dtype=np.float64)
    item = images > ITEM_LEVEL
    area = item.sum((1, 2))
    if caption_set is DIGITS:
        return {"w": images.sum((1, 2))}
    mean = (images * item).sum((1, 2)) / np.maximum(area, 1)
    return {"b": mean, "s": area.astype(np.float64)}


def thresholds(values: dict[str, np.ndarray], labels: np.ndarray, num_classes: int) -> dict:
    """Per slot, a (K, 2) array of the class-wise tertiles of ``values`` (training split)."""
    out = {}
    for slot, v in values.items():
        t = np.zeros((num_classes, 2))
        for k in range(num_classes):
            if (labels == k).any():
                t[k] = np.quantile(v[labels == k], QUANTILES)
        out[slot] = t
    return out


def attribute_codes(values: dict, labels: np.ndarray, cuts: dict) -> dict[str, np.ndarray]:
    """Per slot, int8 (N,): -1 the low word, +1 the high word, 0 unlabelled (middle third)."""
    out = {}
    for slot, v in values.items():
        lo, hi = cuts[slot][labels, 0], cuts[slot][labels, 1]
        out[slot] = np.where(v <= lo, -1, np.where(v >= hi, 1, 0)).astype(np.int8)
    return out


def _slots_of(template: str, cs: CaptionSet) -> set[str]:
    return {s for s in cs.slots if "{" + s + "}" in template}


def fill(cs: CaptionSet, template: str, label: int, words: dict[str, str]) -> str:
    """The caption: the template with its slots filled, "a" -> "an" before a vowel."""
    text = template.format(c=cs.class_words[label], **words)
    tokens = text.split(" ")
    for i in range(len(tokens) - 1):
        if tokens[i] == "a" and tokens[i + 1][:1] in "aeiou":
            tokens[i] = "an"
    return " ".join(tokens)


def words_of(cs: CaptionSet, codes: dict[str, np.ndarray], i: int) -> dict[str, str]:
    """The attribute words of image ``i`` (labelled slots only)."""
    return {s: cs.attributes[s][0 if c[i] < 0 else 1] for s, c in codes.items() if c[i] != 0}


def usable(cs: CaptionSet, template: str, label: int, words: dict[str, str]) -> bool:
    """Whether ``template`` may caption an image with these words in training: every slot
    labelled, and not both words of a held-out (class, word, word) combination."""
    slots = _slots_of(template, cs)
    if not slots <= set(words):
        return False
    named = {words[s] for s in slots}
    return not any(cs.class_words[label] == c and {a, b} <= named for c, a, b in cs.held_out_combos)


def draw_captions(
    cs: CaptionSet, labels: np.ndarray, codes: dict[str, np.ndarray], seed: int
) -> tuple[list[str], np.ndarray]:
    """One training caption per image, its template drawn uniformly among the usable ones,
    and what each caption states: int8 (N, slots), -1 / +1 for a named word, 0 for none."""
    rng = np.random.default_rng(seed)
    texts, stated = [], np.zeros((len(labels), len(cs.slots)), dtype=np.int8)
    for i, label in enumerate(np.asarray(labels).tolist()):
        words = words_of(cs, codes, i)
        choices = [t for t in cs.templates if usable(cs, t, label, words)]
        template = choices[int(rng.integers(len(choices)))]
        for j, slot in enumerate(cs.slots):
            if slot in _slots_of(template, cs):
                stated[i, j] = codes[slot][i]
        texts.append(fill(cs, template, label, words))
    return texts, stated


def held_out_captions(cs: CaptionSet, label: int, words: dict[str, str]) -> list[str]:
    """Every held-out-phrasing caption naming class ``label`` with exactly ``words``."""
    return [
        fill(cs, t, label, words) for t in cs.held_out_templates if _slots_of(t, cs) == set(words)
    ]

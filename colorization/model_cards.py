"""What each model is good and bad at, in one plain sentence for the public AI label and the approval screen.

The sentence is taken from the model's card (MODEL_CARD.md for the bundled models): a checkpoint may carry its
own under "card" (`colorize-train export --card`), a bundled model's is below by name, and a model trained by the
museum without one gets FALLBACK. `checkpoint.summary()` puts it into the model's info, which the portal shows.
"""

from __future__ import annotations

from typing import Any

PLAIN: dict[str, str] = {
    # MODEL_CARD.md, "Looked at as a visitor would" and "Limits"
    "unet-v10": (
        "Good at turning trees and grass green and skies blue, weak at water, sunlit meadows and reddish things "
        "such as brick, roads and roofs, which often stay grey or brown; its colours are plausible guesses, not "
        "historical fact."
    ),
    # MODEL_CARD.md, "Status" (unet-v13) and "Limits"
    "unet-v13": (
        "Good at turning trees and grass green and skies blue, somewhat paler than the real colours of old "
        "photographs, and weak at water, sunlit meadows and reddish things such as brick, roads and roofs, which "
        "often stay grey or brown; its colours are plausible guesses, not historical fact."
    ),
    # MODEL_CARD.md, "Stage 10d" (unet-v12, the default before unet-v13) and "Limits"
    "unet-v12": (
        "Good at turning trees and grass green and skies blue, paler than the real colours of old photographs, and "
        "weak at water, sunlit meadows and reddish things such as brick, roads and roofs, which often stay grey or "
        "brown; its colours are plausible guesses, not historical fact."
    ),
}
FALLBACK = (
    "Trained by the museum and not yet described by a model card: expect plausible colours on broad areas such as "
    "foliage and sky and guesses on clothes, water and painted surfaces, never historical fact."
)


def plain_sentence(ckpt: dict[str, Any]) -> str:
    """The checkpoint's own sentence, else its bundled model's by name, else FALLBACK."""
    own = ckpt.get("card")
    if isinstance(own, str) and own.strip():
        return " ".join(own.split())
    return PLAIN.get(str(ckpt.get("name") or ""), FALLBACK)

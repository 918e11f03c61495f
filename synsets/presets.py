"""Named subtree presets: the 12 subtrees of the ImageNet 2009 release (Deng et al. 2009 §3) and
wnid-list files such as ImageNet-1k's."""

from __future__ import annotations

import re
from pathlib import Path

# Each preset is the WordNet 3.0 synset whose subtree ImageNet 2009 covered.
IMAGENET_2009_SUBTREES: dict[str, str] = {
    "mammal": "n01861778",  # mammal, mammalian
    "bird": "n01503061",  # bird
    "fish": "n02512053",  # fish (aquatic vertebrate)
    "reptile": "n01661091",  # reptile, reptilian
    "amphibian": "n01627424",  # amphibian (cold-blooded vertebrate)
    "vehicle": "n04524313",  # vehicle (conveyance that transports people or objects)
    "furniture": "n03405725",  # furniture, piece of furniture, article of furniture
    "musical instrument": "n03800933",  # musical instrument, instrument
    "geological formation": "n09287968",  # geological formation, formation
    "tool": "n04451818",  # tool (implement used in the practice of a vocation)
    "flower": "n11669921",  # flower (plant cultivated for its blooms)
    "fruit": "n13134947",  # fruit (the ripened reproductive body of a seed plant)
}

WNID_PATTERN = re.compile(r"^n\d{8}$")


class WnidListError(ValueError):
    """A wnid list file that cannot be used; the message names the line."""


def read_wnid_list(path: Path) -> list[str]:
    """Read wnids, one per line (extra columns, blank lines and # comments ignored), in order."""
    wnids: list[str] = []
    seen: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WnidListError(f"{path}: cannot read wnid list ({exc})") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        token = line.split("#", 1)[0].strip().split()
        if not token:
            continue
        if not WNID_PATTERN.match(token[0]):
            raise WnidListError(f"{path}:{number}: {token[0]!r} is not a wnid (n + 8 digits)")
        if token[0] not in seen:
            seen.add(token[0])
            wnids.append(token[0])
    return wnids

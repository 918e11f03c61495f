"""factory_boy factories shared by the suite."""

from __future__ import annotations

import hashlib
import io
import itertools

import factory
from django.core.files.base import ContentFile
from PIL import Image

from candidates.models import Candidate
from synsets.models import Synset, SynsetClosure

_offsets = itertools.count(90_000_000)


def jpeg_bytes(
    color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (96, 72)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class SynsetFactory(factory.django.DjangoModelFactory):
    """A synthetic synset (offsets from 90000000 up, outside WordNet's range) with its self
    closure row, so subtree queries include it."""

    class Meta:
        model = Synset
        django_get_or_create = ("wnid",)

    wnid = factory.LazyFunction(lambda: f"n{next(_offsets):08d}")
    lemmas = factory.Sequence(lambda n: [f"thing {n}", f"object {n}"])
    gloss = "a synthetic synset used in tests"
    lexname = "noun.artifact"

    @factory.post_generation
    def closure(obj, create, extracted, **kwargs):
        if create:
            SynsetClosure.objects.get_or_create(
                ancestor=obj, descendant=obj, defaults={"distance": 0}
            )


class CandidateFactory(factory.django.DjangoModelFactory):
    """A stored candidate with a real (tiny) JPEG and thumbnail in the default storage."""

    class Meta:
        model = Candidate

    synset = factory.SubFactory(SynsetFactory)
    status = Candidate.Status.STORED
    source = "test"
    query = factory.LazyAttribute(lambda o: o.synset.lemmas[0])
    rank = factory.Sequence(int)
    image_url = factory.Sequence(lambda n: f"https://images.example.org/{n}.jpg")
    url_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.image_url.encode()).hexdigest())
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"img-{n}".encode()).hexdigest())
    phash = factory.Sequence(lambda n: n * 7919)
    width = 96
    height = 72
    format = "JPEG"
    bytes = 2048
    image = factory.LazyAttribute(lambda o: ContentFile(jpeg_bytes(), name="c.jpg"))
    thumbnail = factory.LazyAttribute(lambda o: ContentFile(jpeg_bytes(), name="t.jpg"))

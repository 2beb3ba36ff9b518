"""``demo-embeddings``: a small deterministic text-embedding model (task ``llm/v1/embeddings``).

Feature hashing of a text's lower-cased words into ``DIMENSIONS`` signed buckets, L2-normalised:
no model file, no network, the same text always gives the same vector, and texts that share words
point the same way (so similarity search over it behaves sensibly in tests). The wire shape is
OpenAI's embeddings object, which Databricks' embedding endpoints answer with; ``encoding_format:
"base64"`` (the openai SDK's default) gives little-endian float32 bytes in base64.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from agent_magics.local.usage import count_tokens

DIMENSIONS = 64
_TERM = re.compile(r"[a-z0-9]+")


class EmbeddingsRequestError(ValueError):
    pass


@dataclass(frozen=True)
class EmbeddingsRequest:
    texts: list[str]
    encoding_format: str = "float"
    dimensions: int = DIMENSIONS


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    vector = [0.0] * dimensions
    for term in _TERM.findall(text.lower()):
        digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:  # no words: a fixed unit vector rather than zeros (cosine stays defined)
        return [1.0] + [0.0] * (dimensions - 1)
    return [v / norm for v in vector]


class EmbeddingsAdapter:
    interface: ClassVar[str] = "embeddings"

    def __init__(self, name: str = "demo-embeddings") -> None:
        self.name = name

    def parse(self, body: dict[str, Any]) -> EmbeddingsRequest:
        given = body.get("input", body.get("inputs"))
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise EmbeddingsRequestError("'input' must be a string or a non-empty list of strings.")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise EmbeddingsRequestError("'encoding_format' must be float or base64.")
        dimensions = body.get("dimensions") or DIMENSIONS
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= DIMENSIONS:
            raise EmbeddingsRequestError(f"'dimensions' must be an integer from 1 to {DIMENSIONS}.")
        return EmbeddingsRequest(texts, encoding, dimensions)

    def answer(self, request: EmbeddingsRequest) -> dict[str, Any]:
        data = []
        for index, text in enumerate(request.texts):
            vector = embed(text, request.dimensions)
            value: Any = vector
            if request.encoding_format == "base64":
                value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(count_tokens(t) for t in request.texts)
        return {
            "object": "list",
            "data": data,
            "model": self.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

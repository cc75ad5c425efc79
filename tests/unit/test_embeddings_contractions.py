"""The contracted interactions give PyKEEN's scores, for 1-N and for per-triple shapes."""

from __future__ import annotations

import pytest
import torch
from pykeen.nn.modules import ComplExInteraction, DistMultInteraction, TransEInteraction

from embeddings.contractions import contracted

BATCH, ENTITIES, NEGATIVES, DIM = 5, 7, 3, 8

# (h, r, t) shapes: 1-N scoring of a batch against every entity (tail and head side),
# and sLCWA scoring, where each triple meets only its own negatives
SHAPES = {
    "1-N tails": ((BATCH, 1, DIM), (BATCH, 1, DIM), (1, ENTITIES, DIM)),
    "1-N heads": ((1, ENTITIES, DIM), (BATCH, 1, DIM), (BATCH, 1, DIM)),
    "per triple": ((BATCH * NEGATIVES, DIM), (BATCH * NEGATIVES, DIM), (BATCH * NEGATIVES, DIM)),
    "own negatives": ((BATCH, 1, DIM), (BATCH, 1, DIM), (BATCH, NEGATIVES, DIM)),
}
MODULES = {
    "transe": lambda: TransEInteraction(p=2),
    "distmult": DistMultInteraction,
    "complex": ComplExInteraction,
}


@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("make", MODULES.values(), ids=MODULES.keys())
def test_contracted_scores_match_pykeen(make, shapes) -> None:
    generator = torch.Generator().manual_seed(0)
    complex_valued = make is ComplExInteraction
    h, r, t = (
        torch.randn(*shape, dtype=torch.cfloat if complex_valued else torch.float, generator=generator)
        for shape in shapes
    )
    original = make()
    twin = contracted(original)
    assert type(twin) is not type(original)
    torch.testing.assert_close(twin(h, r, t), original(h, r, t), rtol=1e-4, atol=1e-4)

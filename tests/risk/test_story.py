"""The story the product exists for, on the demo's own economy (20k firms, seed 42 — what `chainlight demo`
shows): the story firm gets a pure-credit line in the ¥1–3M range with reasons naming its chain position, patents and
anchor-bound sales, where the registry-and-bureau view refers or declines it.

Not on the 1,500-firm test economy: there the scorecards learn from a few dozen defaults, and a firm whose true PD is
about 2% lands on either side of the 3% approval band by chance.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chainlight import ingest, pipeline, synth
from chainlight.config import Config
from chainlight.risk.decide import DecisionService
from chainlight.risk.story import find_story_firm, tell
from chainlight.synth import STORY_FIRM_NAME
from chainlight.workspace import Workspace

DEMO_FIRMS, DEMO_SEED = 20_000, 42


@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("story")
    synth.generate(root / "inputs", firms=DEMO_FIRMS, seed=DEMO_SEED)
    cfg = Config()
    ws = Workspace(root / "ws", cfg)
    report = ingest.run(ws, cfg, [root / "inputs"])
    assert not report.errors, report.errors
    pipeline.run_stages(ws, cfg)
    yield ws
    ws.close()


def test_story_firm_approved_where_the_traditional_view_is_not(demo_workspace: Workspace) -> None:
    uscc = find_story_firm(demo_workspace, STORY_FIRM_NAME)
    assert uscc is not None
    story = tell(demo_workspace, Config(), uscc, 2_000_000, DecisionService.load(demo_workspace, Config()))
    chain, traditional = story.chainlight, story.traditional
    assert chain.decision == "approve" and 1_000_000 <= chain.amount <= 3_000_000
    assert 1_000_000 <= chain.evidence["line"]["limit"] <= 3_000_000
    favourable = {r.code for r in chain.reasons if r.direction == "favourable"}
    assert {"CHAIN_POSITION", "ANCHOR_SALES", "PATENTS"} <= favourable
    assert traditional.decision in ("refer", "decline") and traditional.amount == 0
    assert chain.evidence["path_to_anchor"][-1]["anchor"] == "yes"
    assert story.registry["industry_code"] == "3499" and story.chain["granted patents"] >= 5

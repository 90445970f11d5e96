"""Several ingest processes share the cameras: each camera is recorded by exactly one shard."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from typer.testing import CliRunner

from tests import factories
from vms.cli import app
from vms.roles.ingest import IngestRole, Shard


def test_every_camera_belongs_to_exactly_one_shard_and_the_shares_are_even():
    cameras = [uuid.uuid4() for _ in range(2000)]
    shards = [Shard(i, 4) for i in range(4)]
    owners = [[s for s in shards if s.owns(c)] for c in cameras]
    assert all(len(o) == 1 for o in owners)
    shares = [sum(1 for o in owners if o[0] is s) for s in shards]
    assert all(400 < n < 600 for n in shares), shares  # random ids spread evenly (500 each expected)
    assert all(Shard().owns(c) for c in cameras)  # one process records everything


@pytest.mark.parametrize("text", ["2", "2/2", "-1/2", "a/b", "1/0", "/2", ""])
def test_a_malformed_or_impossible_shard_is_refused(text: str):
    with pytest.raises(ValueError, match="shard"):
        Shard.parse(text)


def test_the_cli_refuses_a_bad_shard_with_a_clear_message_before_starting():
    result = CliRunner().invoke(app, ["role", "ingest", "--shard", "2/2"])
    assert result.exit_code == 2
    assert "index must be 0..1" in result.output


async def test_two_shards_start_disjoint_streams_that_together_cover_every_camera(container):
    customer = await factories.customer(container)
    cameras = [
        (await factories.camera(container, tenant_id=customer.id, main_url=f"rtsp://127.0.0.1:9/cam{i}")).id
        for i in range(10)
    ]
    roles = [IngestRole(container, refresh_s=60, shard=Shard(i, 2)) for i in range(2)]
    try:
        for role in roles:
            await role.reconcile()  # starts a supervisor per owned stream (they only fail to connect here)
        recorded = [{camera for camera, _stream in role.running} for role in roles]
        assert recorded[0].isdisjoint(recorded[1])
        assert recorded[0] | recorded[1] == set(cameras)
        assert recorded[0] and recorded[1], "10 random ids fall on both sides (all on one: 1 in 512)"
        assert all(Shard(i, 2).owns(c) for i, share in enumerate(recorded) for c in share)
    finally:
        tasks = [r.task for role in roles for r in role.running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

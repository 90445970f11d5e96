"""Which stream each AI model runs on (requirements §7), without the API."""

from __future__ import annotations

import pytest

from vms.cameras.compatibility import fit, qualifies
from vms.cameras.probe import StreamInfo
from vms.kernel.ai_models import MODEL_SPECS, AiModel


def stream(height: int, kbps: int, *, width: int | None = None, declared: int | None = None) -> StreamInfo:
    return StreamInfo(
        codec="h264", width=width or height * 16 // 9, height=height, bitrate_kbps=kbps, declared_bitrate_kbps=declared
    )


@pytest.mark.parametrize("model", list(AiModel))
def test_every_model_qualifies_exactly_at_its_minimums(model: AiModel):
    spec = MODEL_SPECS[model]

    assert qualifies(model, stream(spec.min_height, spec.min_bitrate_kbps))
    assert not qualifies(model, stream(spec.min_height - 1, spec.min_bitrate_kbps))
    assert not qualifies(model, stream(spec.min_height, spec.min_bitrate_kbps - 1))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (AiModel.MOTION, "sub"),  # 360p / 512 kbps: the 480p sub stream will do
        (AiModel.INTRUSION, "sub"),  # 480p / 1 Mbps
        (AiModel.FIRE_SMOKE, "main"),  # 720p / 2 Mbps
        (AiModel.ANPR, "main"),  # 1080p / 3 Mbps
    ],
)
def test_the_sub_stream_is_preferred_when_it_qualifies(model, expected):
    assert fit(model, main=stream(1080, 4000), sub=stream(480, 1200)).stream == expected


def test_the_shortfall_names_the_model_and_both_streams():
    found = fit(AiModel.ANPR, main=stream(720, 1800), sub=stream(360, 500))

    assert not found.compatible and found.stream is None
    assert (
        found.reason
        == "anpr needs 1080p at 3000 kbps; main stream is 720p at 1800 kbps, sub stream is 360p at 500 kbps"
    )


def test_without_a_sub_stream_only_the_main_is_judged():
    assert fit(AiModel.CROWD, main=stream(720, 1500), sub=None).reason == (
        "crowd needs 720p at 2000 kbps; main stream is 720p at 1500 kbps"
    )


def test_a_portrait_corridor_view_is_judged_by_its_short_side():
    corridor = StreamInfo(codec="hevc", width=1080, height=1920, bitrate_kbps=3500)

    assert fit(AiModel.ANPR, main=corridor, sub=None).stream == "main"
    assert not qualifies(AiModel.ANPR, StreamInfo(codec="hevc", width=720, height=1280, bitrate_kbps=3500))


def test_a_declared_bitrate_counts_when_a_quiet_scene_sends_less():
    quiet = stream(1080, 900, declared=4096)

    assert quiet.usable_bitrate_kbps == 4096
    assert fit(AiModel.ANPR, main=quiet, sub=None).compatible

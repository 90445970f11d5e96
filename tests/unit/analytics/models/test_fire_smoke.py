"""Fire & smoke: procedural flames and smoke composited into real footage, and real-footage negatives."""

from __future__ import annotations

import uuid
from functools import cache

import cv2
import numpy as np
import pytest

from tests.scenes.fire_smoke.footage import SET, Box, scene
from tests.scenes.motion.footage import as_clip, frame_index
from vms.analytics.models.fire_smoke import _FINE, _LUMA, FireSmoke, FireSmokeConfig, _detail, _veil
from vms.analytics.plugin import REGISTRY, Detection
from vms.kernel.ai_models import AiModel
from vms.kernel.priority import Priority

SCENES = {s["name"]: s for s in SET["scenes"]}


@cache
def _scene(name: str) -> tuple[np.ndarray, dict[str, Box]]:
    return scene(SCENES[name])


def _run(name: str, config: FireSmokeConfig | None = None) -> list[Detection]:
    images, _ = _scene(name)
    return FireSmoke(config).analyze(as_clip(images), camera_id=uuid.uuid4(), segment_sequence=0)


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_fire_smoke_is_registered_with_the_table_defaults():
    assert REGISTRY[AiModel.FIRE_SMOKE] is FireSmoke
    assert FireSmoke.default_priority is Priority.CRITICAL
    assert FireSmokeConfig().type == "fire_smoke"


def test_a_flickering_flame_where_people_walk_is_reported_once_across_segments():
    spec = SCENES["fire_on_busy_path"]
    images, truth = _scene("fire_on_busy_path")
    model, camera = FireSmoke(), uuid.uuid4()
    # Two consecutive segments overlapping by five frames: the window and tracks carry over, no frame twice.
    found = model.analyze(as_clip(images[:50]), camera_id=camera, segment_sequence=0)
    found += model.analyze(as_clip(images[45:], first_index=45), camera_id=camera, segment_sequence=1)
    assert [d.object_class for d in found] == ["fire"]
    d = found[0]
    expected = spec["expect"][0]["from"]
    assert expected <= frame_index(d.frame_time) <= expected + SET["tolerance_frames"]["fire"]
    assert _overlaps(d.box, truth["fire"])
    assert d.segment_sequence == 1 and 0.5 <= d.score <= 1.0 and (d.track_id or "").startswith("fire-")
    assert d.attributes["flicker"] >= FireSmokeConfig().min_flicker_share


def test_a_static_orange_object_is_not_fire_because_it_does_not_flicker():
    assert _run("static_orange_object") == []
    # Control: without the flicker test the orange (colour alone) is taken for a flame.
    found = _run("static_orange_object", FireSmokeConfig(min_flicker_share=0.0, flicker_amplitude=1.0))
    assert "fire" in {d.object_class for d in found}


@pytest.mark.parametrize("name", ["red_shirt_moving", "lights_change_with_orange_object"])
def test_moving_red_clothes_and_lighting_changes_over_walkers_are_neither(name: str):
    assert _run(name) == []


def test_a_rising_smoke_plume_is_reported_and_the_fire_under_it_too():
    spec = SCENES["fire_with_smoke"]
    _, truth = _scene("fire_with_smoke")
    found = _run("fire_with_smoke")
    assert sorted(d.object_class for d in found) == ["fire", "smoke"]
    for d in found:
        (e,) = [e for e in spec["expect"] if e["class"] == d.object_class]
        assert e["from"] <= frame_index(d.frame_time) <= e["from"] + SET["tolerance_frames"][d.object_class]
        assert _overlaps(d.box, truth[d.object_class])
    smoke = next(d for d in found if d.object_class == "smoke")
    assert smoke.attributes["growth"] >= 0.5 and smoke.attributes["riseShare"] >= 0.05
    # Each kind can be switched off.
    assert [d.object_class for d in _run("fire_with_smoke", FireSmokeConfig(detect_smoke=False))] == ["fire"]


def _smoke_found_in_time(name: str) -> int:
    """The scene's plume is reported once, as smoke, within the tolerance of its start, where it is;
    returns the last frame that is still in time."""
    spec = SCENES[name]
    _, truth = _scene(name)
    found = _run(name)
    assert [d.object_class for d in found] == ["smoke"]
    expected = spec["expect"][0]["from"]
    in_time = expected + SET["tolerance_frames"]["smoke"]
    assert expected <= frame_index(found[0].frame_time) <= in_time
    assert _overlaps(found[0].box, truth["smoke"])
    return in_time


def test_light_smoke_over_light_pavement_is_found_by_the_veil_it_casts():
    _smoke_found_in_time("smoke_on_busy_path")
    # Control: the plume is as light as the pavement; with only brightening counted (no deep veil) it is missed.
    assert _run("smoke_on_busy_path", FireSmokeConfig(smoke_min_veil=1.0)) == []


@pytest.mark.parametrize("name", ["grey_coat_walking_slowly", "sunlight_drifting_over_the_ground", "fog_rolling_in"])
def test_a_grey_coat_sunlight_and_fog_are_not_smoke(name: str):
    assert _run(name) == []


def test_fog_veiling_the_whole_view_is_a_global_change_not_smoke():
    # Control: without the whole-view check the fog's front, rising over the lawn, is taken for smoke.
    found = _run("fog_rolling_in", FireSmokeConfig(haze_max_veil=1.0))
    assert "smoke" in {d.object_class for d in found}


def test_a_veil_keeps_the_grounds_pattern_and_a_coat_replaces_it():
    images, _ = _scene("people_walking")
    ground = images[0].astype(np.float32)
    y, x, h, w = slice(150, 230), slice(300, 420), 80, 120  # light pavement
    veiled, coat = ground.copy(), ground.copy()
    veiled[y, x] = 0.6 * ground[y, x] + 0.4 * np.asarray([198.0, 198.0, 202.0])  # thin grey smoke
    folds = np.linspace(0.9, 1.1, w, dtype=np.float32)[None, :, None]
    coat[y, x] = np.asarray([178.0, 178.0, 182.0]) * folds * np.ones((h, 1, 1), np.float32)  # a grey coat
    base = _detail(cv2.resize(ground, _FINE, interpolation=cv2.INTER_AREA) @ _LUMA)
    cell = (slice(40, 55), slice(78, 102))  # inside the box at work size (160×120)
    for image, see_through in ((veiled, True), (coat, False)):
        detail = _detail(cv2.resize(image, _FINE, interpolation=cv2.INTER_AREA) @ _LUMA)
        similar = float(np.median(_veil(detail, base)[0][cell]))
        assert (similar >= FireSmokeConfig().smoke_min_see_through) is see_through, similar


def test_transmission_sees_a_faint_veil_through_noise_and_sunlight_as_no_veil():
    images, _ = _scene("people_walking")
    ground = images[0].astype(np.float32)
    y, x = slice(150, 230), slice(300, 420)  # light pavement, weakly patterned
    noise = np.random.default_rng(0).normal(0.0, 2.0, ground.shape).astype(np.float32)
    veiled, sunlit = ground.copy(), ground.copy()
    veiled[y, x] = 0.75 * ground[y, x] + 0.25 * np.asarray([198.0, 198.0, 202.0])  # faint grey smoke
    sunlit[y, x] = 1.3 * ground[y, x]
    base = _detail(cv2.resize(ground, _FINE, interpolation=cv2.INTER_AREA) @ _LUMA)
    cell = (slice(40, 55), slice(78, 102))
    veil, sun = (
        float(
            np.median(_veil(_detail(cv2.resize(i + noise, _FINE, interpolation=cv2.INTER_AREA) @ _LUMA), base)[1][cell])
        )
        for i in (veiled, sunlit)
    )
    assert 0.6 <= veil <= 0.9 and sun >= 1.1, (veil, sun)  # the veil's factor, unbiased by the noise


def test_faint_smoke_over_weakly_patterned_ground_is_found_by_its_transmission():
    in_time = _smoke_found_in_time("smoke_by_the_road")
    # Control: without the transmission cue the plume (a few grey levels, detail lost in noise) is missed in time.
    late = _run("smoke_by_the_road", FireSmokeConfig(smoke_min_faint_veil=1.0))
    assert not any(frame_index(d.frame_time) <= in_time for d in late)


def test_zones_limit_where_fire_is_reported():
    elsewhere = [[(0.0, 0.0), (0.3, 0.0), (0.3, 0.3), (0.0, 0.3)]]
    assert _run("fire_on_busy_path", FireSmokeConfig(zones=elsewhere)) == []
    around = [[(0.4, 0.4), (0.6, 0.4), (0.6, 0.7), (0.4, 0.7)]]
    found = _run("fire_on_busy_path", FireSmokeConfig(zones=around))
    assert [(d.object_class, d.attributes["zone"]) for d in found] == [("fire", 0)]


def test_config_bounds_are_enforced():
    with pytest.raises(ValueError):
        FireSmokeConfig(zones=[[(0.0, 0.0), (1.5, 0.0), (0.0, 1.0)]])
    with pytest.raises(ValueError):
        FireSmokeConfig(window_s=0.0)
    with pytest.raises(ValueError):
        FireSmokeConfig(min_flicker_share=2.0)
    with pytest.raises(ValueError):
        FireSmokeConfig.model_validate({"type": "anpr"})
    assert all(f.description for n, f in FireSmokeConfig.model_fields.items() if n != "type")

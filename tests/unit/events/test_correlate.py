"""One event per real incident; none for noise or for the parked car that stays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from vms.events.correlate import Change, Correlator, Observation, Rules
from vms.kernel.ai_models import AiModel

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CAM = uuid.uuid4()


def obs(t: float, box=(0.4, 0.4, 0.1, 0.2), score=0.9, track=None, cls="person", model=AiModel.INTRUSION):
    return Observation(CAM, model, T0 + timedelta(seconds=t), box, cls, score, track)


def feed(correlator: Correlator, observations) -> list:
    out = []
    for o in observations:
        out += correlator.observe(o)
    return out


def test_a_person_walking_through_makes_one_event_across_segments():
    c = Correlator(default_rules=Rules(min_hits=3, min_duration_s=1))
    walk = [obs(t / 5, box=(0.1 + t * 0.01, 0.4, 0.1, 0.2), track="t1") for t in range(60)]  # 12 s, 3 segments
    outcomes = feed(c, walk)
    opened = [o for o in outcomes if o.change is Change.OPENED]
    assert len(opened) == 1
    assert opened[0].incident.first_at == T0
    assert all(o.incident.id == opened[0].incident.id for o in outcomes)
    closed = c.expire(T0 + timedelta(seconds=30))
    assert [o.change for o in closed] == [Change.CLOSED]
    assert closed[0].incident.last_at == T0 + timedelta(seconds=59 / 5)


def test_low_confidence_and_flicker_make_no_event():
    c = Correlator(default_rules=Rules(threshold=0.6, min_hits=3, min_duration_s=1))
    assert feed(c, [obs(t / 5, score=0.5) for t in range(20)]) == []  # under the threshold
    assert feed(c, [obs(0, track="blip"), obs(0.2, track="blip")]) == []  # too short to persist


def test_two_people_are_two_events():
    c = Correlator(default_rules=Rules(min_hits=2, min_duration_s=0.2))
    outcomes = feed(c, [o for t in range(5) for o in (obs(t / 5, track="a"), obs(t / 5, track="b"))])
    assert len([o for o in outcomes if o.change is Change.OPENED]) == 2


def test_without_tracks_the_same_place_is_the_same_incident():
    c = Correlator(default_rules=Rules(min_hits=2, min_duration_s=0.2))
    outcomes = feed(c, [obs(t / 5, box=(0.4 + t * 0.005, 0.4, 0.1, 0.2)) for t in range(10)])
    assert len([o for o in outcomes if o.change is Change.OPENED]) == 1
    far = feed(c, [obs(3 + t / 5, box=(0.0, 0.0, 0.1, 0.1)) for t in range(3)])
    assert len([o for o in far if o.change is Change.OPENED]) == 1  # somewhere else: another incident


def test_the_parked_car_alerts_once_even_when_its_track_is_lost_and_found():
    rules = Rules(min_hits=2, min_duration_s=0.5, close_after_s=5, stationary_after_s=60)
    c = Correlator(default_rules=rules)
    car = (0.6, 0.5, 0.2, 0.15)
    arrives = [obs(t, box=(0.9 - t * 0.03, 0.5, 0.2, 0.15), cls="car", track="c1") for t in range(10)]
    parked = [obs(10 + t, box=car, cls="car", track="c1") for t in range(120)]
    first = feed(c, arrives + parked)
    assert len([o for o in first if o.change is Change.OPENED]) == 1
    c.expire(T0 + timedelta(seconds=200))  # the tracker lost it for a while
    again = feed(c, [obs(200 + t, box=car, cls="car", track="c2") for t in range(30)])
    assert [o for o in again if o.change is Change.OPENED] == []
    assert c.stationary_suppressed >= 1
    leaves = feed(c, [obs(230 + t, box=(0.6 - t * 0.05, 0.5, 0.2, 0.15), cls="car", track="c2") for t in range(8)])
    assert not [o for o in leaves if o.change is Change.OPENED]  # driving off continues the same incident


def test_a_new_object_in_another_place_still_alerts_while_a_car_is_parked():
    rules = Rules(min_hits=2, min_duration_s=0.5, stationary_after_s=30)
    c = Correlator(default_rules=rules)
    feed(c, [obs(t, box=(0.6, 0.5, 0.2, 0.15), cls="car", track="c1") for t in range(60)])
    person = feed(c, [obs(60 + t / 5, box=(0.1, 0.3, 0.1, 0.2), track="p1") for t in range(10)])
    assert len([o for o in person if o.change is Change.OPENED]) == 1


def test_rules_are_per_model():
    c = Correlator(
        rules_for={AiModel.FIRE_SMOKE: Rules(min_hits=1, min_duration_s=0)},
        default_rules=Rules(min_hits=5, min_duration_s=2),
    )
    assert feed(c, [obs(0, model=AiModel.FIRE_SMOKE, cls="fire")])[0].change is Change.OPENED
    assert feed(c, [obs(0, model=AiModel.INTRUSION)]) == []


def test_a_fast_untracked_object_is_followed_not_split_into_many_events():
    c = Correlator(default_rules=Rules(min_hits=2, min_duration_s=0.2))
    # 15 fps sampled, the box jumps 0.12 of the frame per frame: no overlap between neighbours
    crossing = [obs(t / 15, box=(0.05 + t * 0.12, 0.4, 0.1, 0.2), cls="motion") for t in range(7)]
    outcomes = feed(c, crossing)
    assert len([o for o in outcomes if o.change is Change.OPENED]) == 1
    assert len({o.incident.id for o in outcomes}) == 1

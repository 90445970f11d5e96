"""From detections to events: threshold, persistence, correlation, dedup, stationary suppression.

Operators judge the product by its inbox, and the two loudest complaints about NVRs are false
alarms and the same parked car alerting again and again. So a detection becomes an event only when:
- its score clears the model's (hierarchically configured) confidence threshold;
- the object persists: `min_hits` detections over at least `min_duration_s`;
- it is not the continuation of an open event (same camera, model and track — or the same class
  overlapping the same place when the model has no tracker); continuations extend the open event,
  across segment boundaries, until the object has been gone for `close_after_s`;
- it is not a stationary object that has already alerted: an object whose box has stayed put for
  `stationary_after_s` stops producing events until it moves (the parked car).

Events of one object moving between adjacent cameras are linked afterwards, when each opens
(events.links, within `link_window_s`).

Pure logic with an injected clock: the events role feeds it detections and stores what it says.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from vms.kernel.ai_models import AiModel

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Observation:
    """One detection as the correlator sees it."""

    camera_id: uuid.UUID
    model: AiModel
    at: datetime
    box: Box
    object_class: str
    score: float
    track_id: str | None = None
    threshold: float | None = None  # the camera's configured confidence threshold; None: the model's rule


@dataclass(frozen=True, slots=True)
class Rules:
    """Per model (and, through configuration, per customer and camera)."""

    threshold: float = 0.5
    min_hits: int = 3
    min_duration_s: float = 1.0
    close_after_s: float = 10.0
    same_place_iou: float = 0.3
    max_step: float = 0.25  # untracked: a same-class box whose centre moved less than this (frame share)
    max_step_gap_s: float = 1.0  # … within this long of the last sighting is the same object moving
    stationary_after_s: float = 120.0
    stationary_move: float = 0.05  # box centre drift (frame fraction) that still counts as "not moved"
    parked_memory_s: float = 3600.0  # how long a stationary object is remembered after last being seen
    link_window_s: float = 30.0  # cross-camera: gap after which an adjacent camera's event no longer links (0: off)


class Change(StrEnum):
    """What happened to an event."""

    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass
class Incident:
    """An event in the making or in progress."""

    id: uuid.UUID
    camera_id: uuid.UUID
    model: AiModel
    object_class: str
    track_id: str
    first_at: datetime
    last_at: datetime
    box: Box
    best_score: float
    hits: int = 1
    opened: bool = False
    anchor_box: Box = (0.0, 0.0, 0.0, 0.0)  # where the object was when it last moved
    anchor_at: datetime | None = None
    suppressed: bool = False
    silent: bool = False  # a remembered parked object found again: reported already, never re-opened


@dataclass(frozen=True, slots=True)
class Outcome:
    """A change the events role must store and announce."""

    change: Change
    incident: Incident


@dataclass
class Correlator:
    """Keeps candidate and open incidents per camera and model.

    >>> outcomes = correlator.observe(observation)   # OPENED / UPDATED outcomes
    >>> outcomes += correlator.expire(now)           # CLOSED outcomes for objects that left
    """

    rules_for: dict[AiModel, Rules] = field(default_factory=dict)
    default_rules: Rules = field(default_factory=Rules)
    _live: dict[tuple[uuid.UUID, AiModel], list[Incident]] = field(default_factory=dict)
    # Stationary objects (class, box, last seen) per camera and model: a track lost and found again
    # on the same parked car must not alert again.
    _parked: dict[tuple[uuid.UUID, AiModel], list[tuple[str, Box, datetime]]] = field(default_factory=dict)
    stationary_suppressed: int = 0

    def rules(self, model: AiModel) -> Rules:
        """The rules in force for a model."""
        return self.rules_for.get(model, self.default_rules)

    def observe(self, obs: Observation) -> list[Outcome]:
        """Feed one detection; returns the event changes it causes."""
        rules = self.rules(obs.model)
        if obs.score < (rules.threshold if obs.threshold is None else obs.threshold):
            return []
        incidents = self._live.setdefault((obs.camera_id, obs.model), [])
        incident = self._match(incidents, obs, rules)
        if incident is None:
            track = obs.track_id or uuid.uuid4().hex
            incident = Incident(
                uuid.uuid4(),
                obs.camera_id,
                obs.model,
                obs.object_class,
                track,
                obs.at,
                obs.at,
                obs.box,
                obs.score,
                anchor_box=obs.box,
                anchor_at=obs.at,
            )
            incident.silent = incident.suppressed = self._is_parked(obs, rules)
            incidents.append(incident)
        else:
            incident.hits += 1
            incident.last_at = max(incident.last_at, obs.at)
            incident.box = obs.box
            incident.best_score = max(incident.best_score, obs.score)
        if _moved(incident.anchor_box, obs.box, rules.stationary_move):
            incident.anchor_box, incident.anchor_at = obs.box, obs.at
            incident.suppressed = False
        elif not incident.suppressed and _still_for(incident, obs.at) >= rules.stationary_after_s:
            incident.suppressed = True
            self.stationary_suppressed += 1
        if incident.suppressed:
            self._park(obs)
        if incident.silent:
            return []
        if not incident.opened:
            lasting = (incident.last_at - incident.first_at).total_seconds() >= rules.min_duration_s
            if incident.hits >= rules.min_hits and lasting and not incident.suppressed:
                incident.opened = True
                return [Outcome(Change.OPENED, incident)]
            return []
        return [Outcome(Change.UPDATED, incident)]

    def expire(self, now: datetime) -> list[Outcome]:
        """Close incidents whose object has been gone for `close_after_s`; drop stale candidates."""
        outcomes: list[Outcome] = []
        for (_, model), incidents in self._live.items():
            gone_after = timedelta(seconds=self.rules(model).close_after_s)
            keep = []
            for incident in incidents:
                if now - incident.last_at < gone_after:
                    keep.append(incident)
                elif incident.opened:
                    outcomes.append(Outcome(Change.CLOSED, incident))
            incidents[:] = keep
        return outcomes

    def _is_parked(self, obs: Observation, rules: Rules) -> bool:
        parked = self._parked.get((obs.camera_id, obs.model), [])
        fresh = [(c, b, seen) for c, b, seen in parked if (obs.at - seen).total_seconds() < rules.parked_memory_s]
        self._parked[(obs.camera_id, obs.model)] = fresh
        return any(c == obs.object_class and not _moved(b, obs.box, rules.stationary_move) for c, b, _ in fresh)

    def _park(self, obs: Observation) -> None:
        parked = self._parked.setdefault((obs.camera_id, obs.model), [])
        parked[:] = [p for p in parked if not (p[0] == obs.object_class and not _moved(p[1], obs.box, 0.05))]
        parked.append((obs.object_class, obs.box, obs.at))

    def _match(self, incidents: list[Incident], obs: Observation, rules: Rules) -> Incident | None:
        if obs.track_id is not None:
            return next((i for i in incidents if i.track_id == obs.track_id), None)
        same_class = [i for i in incidents if i.object_class == obs.object_class]
        overlapping = [i for i in same_class if _iou(i.box, obs.box) >= rules.same_place_iou]
        if overlapping:
            return max(overlapping, key=lambda i: _iou(i.box, obs.box))
        # A fast object's boxes may not overlap from one sampled frame to the next: follow the nearest
        # recent one of the same class instead of opening a new incident for every step.
        recent = [
            i
            for i in same_class
            if abs((obs.at - i.last_at).total_seconds()) <= rules.max_step_gap_s
            and _centre_distance(i.box, obs.box) <= rules.max_step
        ]
        return min(recent, key=lambda i: _centre_distance(i.box, obs.box), default=None)


def _still_for(incident: Incident, now: datetime) -> float:
    """Seconds since the incident's object last moved."""
    return (now - incident.anchor_at).total_seconds() if incident.anchor_at else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    return float(((a[0] + a[2] / 2 - b[0] - b[2] / 2) ** 2 + (a[1] + a[3] / 2 - b[1] - b[3] / 2) ** 2) ** 0.5)


def _iou(a: Box, b: Box) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _moved(anchor: Box, box: Box, tolerance: float) -> bool:
    ax, ay = anchor[0] + anchor[2] / 2, anchor[1] + anchor[3] / 2
    bx, by = box[0] + box[2] / 2, box[1] + box[3] / 2
    return abs(ax - bx) > tolerance or abs(ay - by) > tolerance

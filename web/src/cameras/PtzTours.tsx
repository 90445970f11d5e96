// Tours: named lists of presets the server drives the camera through (dwell, speed per step, loop).
// One tour runs per camera; a manual move stops it (the tour's last_error says so).
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, unwrap } from "../api";
import { ErrorState, Loading, ProblemMessage } from "../components/States";
import { usePresets } from "./PtzPresets";
import { cameraKeys, type PresetRead, type TourRead } from "./queries";

interface StepDraft {
  preset_token: string;
  dwell_s: string;
  speed: string;
}

export function ToursPanel({ cameraId, operator }: { cameraId: string; operator: boolean }) {
  const client = useQueryClient();
  const presets = usePresets(cameraId);
  const [editing, setEditing] = useState<TourRead | "new" | null>(null);
  const tours = useQuery({
    queryKey: [...cameraKeys.ptz(cameraId), "tours"],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/cameras/{camera_id}/ptz/tours", {
          params: { path: { camera_id: cameraId }, query: { limit: 100 } },
        }),
      ),
    refetchInterval: (q) => (q.state.data?.items.some((t) => t.running) ? 3000 : false),
  });
  const path = (tour: TourRead) => ({ params: { path: { camera_id: cameraId, tour_id: tour.id } } });
  const refresh = () => client.invalidateQueries({ queryKey: cameraKeys.ptz(cameraId) });
  const act = useMutation({
    mutationFn: async ({ tour, action }: { tour: TourRead; action: "start" | "stop" | "delete" }) => {
      if (action === "delete") return unwrap(await api.DELETE("/api/v1/cameras/{camera_id}/ptz/tours/{tour_id}", path(tour)));
      if (action === "start") return unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/tours/{tour_id}/start", path(tour)));
      return unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/tours/{tour_id}/stop", path(tour)));
    },
    onSettled: () => void refresh(),
  });
  const names = new Map((presets.data ?? []).map((p) => [p.token, p.name]));

  return (
    <div className="tours" role="region" aria-labelledby="tours-title">
      <h3 id="tours-title">Tours</h3>
      {tours.isPending ? (
        <Loading />
      ) : tours.isError ? (
        <ErrorState error={tours.error} onRetry={() => void tours.refetch()} />
      ) : tours.data.items.length === 0 && editing === null ? (
        <p className="muted">
          No tours yet.{operator ? " A tour visits presets in turn; save two or more presets, then create one." : ""}
        </p>
      ) : (
        <ul className="tour-list" aria-label="Tours">
          {tours.data.items.map((t) => (
            <li key={t.id} data-testid="tour">
              <div>
                <strong>{t.name}</strong>{" "}
                {t.running ? (
                  <span className="badge badge-online">
                    Running{t.current_step != null ? ` · step ${t.current_step + 1} of ${t.steps.length}` : ""}
                  </span>
                ) : (
                  <span className="badge badge-unknown">Stopped</span>
                )}
                <div className="muted">
                  {t.steps.map((s) => `${names.get(s.preset_token) ?? s.preset_token} ${s.dwell_s} s`).join(" → ")}
                  {t.loop ? " ↻" : ""}
                </div>
                {t.last_error && !t.running && <div className="muted">{t.last_error}</div>}
              </div>
              {operator && (
                <div className="row">
                  {t.running ? (
                    <button type="button" onClick={() => act.mutate({ tour: t, action: "stop" })} aria-label={`Stop tour ${t.name}`}>
                      Stop
                    </button>
                  ) : (
                    <button type="button" onClick={() => act.mutate({ tour: t, action: "start" })} aria-label={`Start tour ${t.name}`}>
                      Start
                    </button>
                  )}
                  <button type="button" onClick={() => setEditing(t)} aria-label={`Edit tour ${t.name}`}>
                    Edit
                  </button>
                  <button type="button" onClick={() => act.mutate({ tour: t, action: "delete" })} aria-label={`Delete tour ${t.name}`}>
                    Delete
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {act.isError && <ProblemMessage error={act.error} />}
      {operator &&
        (editing === null ? (
          <button type="button" onClick={() => setEditing("new")} disabled={!presets.data?.length}>
            New tour
          </button>
        ) : (
          <TourEditor
            key={editing === "new" ? "new" : editing.id}
            cameraId={cameraId}
            tour={editing === "new" ? null : editing}
            presets={presets.data ?? []}
            onDone={() => {
              setEditing(null);
              void refresh();
            }}
          />
        ))}
    </div>
  );
}

function TourEditor({
  cameraId,
  tour,
  presets,
  onDone,
}: {
  cameraId: string;
  tour: TourRead | null;
  presets: PresetRead[];
  onDone: () => void;
}) {
  const blank = (): StepDraft => ({ preset_token: presets[0]?.token ?? "", dwell_s: "10", speed: "" });
  const [name, setName] = useState(tour?.name ?? "");
  const [loop, setLoop] = useState(tour?.loop ?? true);
  const [steps, setSteps] = useState<StepDraft[]>(
    tour ? tour.steps.map((s) => ({ preset_token: s.preset_token, dwell_s: String(s.dwell_s), speed: s.speed != null ? String(s.speed) : "" })) : [blank(), blank()],
  );
  const save = useMutation({
    mutationFn: async () => {
      const body = {
        name: name.trim(),
        loop,
        steps: steps.map((s) => ({ preset_token: s.preset_token, dwell_s: Number(s.dwell_s), speed: s.speed ? Number(s.speed) : null })),
      };
      return tour
        ? unwrap(await api.PATCH("/api/v1/cameras/{camera_id}/ptz/tours/{tour_id}", { params: { path: { camera_id: cameraId, tour_id: tour.id } }, body }))
        : unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/tours", { params: { path: { camera_id: cameraId } }, body }));
    },
    onSuccess: onDone,
  });
  const fieldErrors = save.error instanceof ApiError ? save.error.fieldErrors : {};
  const set = (i: number, change: Partial<StepDraft>) => setSteps(steps.map((s, j) => (j === i ? { ...s, ...change } : s)));
  const moveStep = (i: number, by: number) => {
    const next = [...steps];
    const [s] = next.splice(i, 1);
    next.splice(i + by, 0, s!);
    setSteps(next);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };

  return (
    <form className="tour-editor" onSubmit={submit} aria-label={tour ? `Edit tour ${tour.name}` : "New tour"}>
      <div className="row">
        <label>
          Tour name
          <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          {fieldErrors.name && <span className="field-error">{fieldErrors.name}</span>}
        </label>
        <label className="check">
          <input type="checkbox" checked={loop} onChange={(e) => setLoop(e.target.checked)} />
          Start again after the last step
        </label>
      </div>
      <ol className="tour-steps">
        {steps.map((s, i) => (
          <li key={i}>
            <fieldset className="row">
              <legend className="sr-only">Step {i + 1}</legend>
              <label>
                Preset
                <select value={s.preset_token} onChange={(e) => set(i, { preset_token: e.target.value })} aria-label={`Step ${i + 1} preset`}>
                  {presets.map((p) => (
                    <option key={p.token} value={p.token}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </label>
              <label className="narrow">
                Dwell (s)
                <input
                  type="number"
                  required
                  min={1}
                  max={3600}
                  step="any"
                  value={s.dwell_s}
                  onChange={(e) => set(i, { dwell_s: e.target.value })}
                  aria-label={`Step ${i + 1} dwell in seconds`}
                />
              </label>
              <label className="narrow">
                Speed (0-1)
                <input
                  type="number"
                  min={0.05}
                  max={1}
                  step={0.05}
                  placeholder="default"
                  value={s.speed}
                  onChange={(e) => set(i, { speed: e.target.value })}
                  aria-label={`Step ${i + 1} speed`}
                />
              </label>
              <span className="step-actions">
                <button type="button" onClick={() => moveStep(i, -1)} disabled={i === 0} aria-label={`Move step ${i + 1} up`}>
                  ↑
                </button>
                <button type="button" onClick={() => moveStep(i, 1)} disabled={i === steps.length - 1} aria-label={`Move step ${i + 1} down`}>
                  ↓
                </button>
                <button
                  type="button"
                  onClick={() => setSteps(steps.filter((_, j) => j !== i))}
                  disabled={steps.length === 1}
                  aria-label={`Remove step ${i + 1}`}
                >
                  ✕
                </button>
              </span>
            </fieldset>
          </li>
        ))}
      </ol>
      <p className="help">The dwell includes the travel time: keep it above the time the head needs to get there.</p>
      {save.isError && <ProblemMessage error={save.error} />}
      <div className="row">
        <button type="button" onClick={() => setSteps([...steps, blank()])} disabled={steps.length >= 64}>
          Add a step
        </button>
        <button type="submit" className="primary" disabled={save.isPending}>
          {tour ? "Save the tour" : "Create the tour"}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

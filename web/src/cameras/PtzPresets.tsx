// The camera's presets (stored in the camera itself): go to one, store the current position as a new
// preset or over an existing one, delete one (after a second click to confirm).
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api";
import { ErrorState, Loading, ProblemMessage } from "../components/States";
import { cameraKeys, type PresetRead } from "./queries";

export function usePresets(cameraId: string) {
  return useQuery({
    queryKey: [...cameraKeys.ptz(cameraId), "presets"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/cameras/{camera_id}/ptz/presets", { params: { path: { camera_id: cameraId } } })),
  });
}

export function PresetsPanel({ cameraId, operator }: { cameraId: string; operator: boolean }) {
  const client = useQueryClient();
  const presets = usePresets(cameraId);
  const [name, setName] = useState("");
  const [confirming, setConfirming] = useState<string | null>(null);
  const [done, setDone] = useState("");
  const path = { camera_id: cameraId };
  const refresh = () => client.invalidateQueries({ queryKey: cameraKeys.ptz(cameraId) });

  const save = useMutation({
    mutationFn: async (body: { name: string; token?: string }) =>
      unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/presets", { params: { path }, body })),
    onSuccess: (p) => {
      setName("");
      setDone(`Saved the current position as “${p.name}”.`);
      void refresh();
    },
  });
  const go = useMutation({
    mutationFn: async (p: PresetRead) => {
      unwrap(await api.POST("/api/v1/cameras/{camera_id}/ptz/presets/{token}/goto", { params: { path: { ...path, token: p.token } } }));
      return p;
    },
    onSuccess: (p) => {
      setDone(`Going to “${p.name}”.`);
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: async (p: PresetRead) => {
      unwrap(await api.DELETE("/api/v1/cameras/{camera_id}/ptz/presets/{token}", { params: { path: { ...path, token: p.token } } }));
      return p;
    },
    onSuccess: (p) => {
      setConfirming(null);
      setDone(`Deleted “${p.name}”.`);
      void refresh();
    },
  });
  const error = save.error ?? go.error ?? remove.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    go.reset();
    remove.reset();
    save.mutate({ name: name.trim() });
  };

  return (
    <div className="presets" aria-labelledby="presets-title" role="region">
      <h3 id="presets-title">Presets</h3>
      {presets.isPending ? (
        <Loading />
      ) : presets.isError ? (
        <ErrorState error={presets.error} onRetry={() => void presets.refetch()} />
      ) : presets.data.length === 0 ? (
        <p className="muted">
          No presets yet.{operator ? " Point the camera with the pad, then save the position under a name." : ""}
        </p>
      ) : (
        <ul className="preset-list" aria-label="Presets">
          {presets.data.map((p) => (
            <li key={p.token} data-testid="preset">
              <span className="preset-name">{p.name}</span>
              {operator && (
                <span className="row">
                  <button type="button" onClick={() => go.mutate(p)} aria-label={`Go to ${p.name}`}>
                    Go
                  </button>
                  <button
                    type="button"
                    onClick={() => save.mutate({ name: p.name, token: p.token })}
                    aria-label={`Store the current position as ${p.name}`}
                    title="Store the current position under this preset"
                  >
                    Update
                  </button>
                  {confirming === p.token ? (
                    <>
                      <button type="button" className="danger" onClick={() => remove.mutate(p)} aria-label={`Really delete ${p.name}`}>
                        Delete
                      </button>
                      <button type="button" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  ) : (
                    <button type="button" onClick={() => setConfirming(p.token)} aria-label={`Delete ${p.name}`}>
                      Delete…
                    </button>
                  )}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
      {operator && (
        <form className="row" onSubmit={submit} aria-label="Save a preset">
          <label>
            Preset name
            <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} placeholder="Gate view" />
          </label>
          <button type="submit" disabled={save.isPending}>
            Save current position
          </button>
        </form>
      )}
      <p className="sr-only" role="status" aria-live="polite">
        {done}
      </p>
      {error && <ProblemMessage error={error} />}
    </div>
  );
}

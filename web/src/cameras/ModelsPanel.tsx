// The ten AI models on this camera: a switch per model, and for each one that cannot be switched on
// the server's reason (not in the licence, or the streams fall short of what the model needs).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type CameraRead } from "../api";
import { keys } from "../api/queries";
import { ErrorState, Loading, ProblemMessage } from "../components/States";
import { cameraKeys, useCameraModels, type AiModel, type CameraModelRead } from "./queries";

/** Why a model cannot be switched on, or null when it can (an enabled model can always be switched off). */
export function blockedReason(m: CameraModelRead): string | null {
  if (m.enabled) return null;
  if (!m.licensed) return m.reason ?? "Not part of your licence.";
  if (m.compatible === false) return m.reason ?? "The camera's streams do not meet this model's needs.";
  return null;
}

export function ModelsPanel({ camera, operator }: { camera: CameraRead; operator: boolean }) {
  const client = useQueryClient();
  const models = useCameraModels(camera.id);
  const save = useMutation({
    mutationFn: async (enabled: AiModel[]) =>
      unwrap(
        await api.PATCH("/api/v1/cameras/{camera_id}", {
          params: { path: { camera_id: camera.id } },
          body: { enabled_models: enabled, probe: true }, // probe: only re-probes when URLs change
        }),
      ),
    onSuccess: (fresh) => {
      client.setQueryData(cameraKeys.one(camera.id), fresh);
      void client.invalidateQueries({ queryKey: cameraKeys.models(camera.id) });
      void client.invalidateQueries({ queryKey: keys.cameras });
    },
  });
  const toggle = (model: AiModel, on: boolean) => {
    const current = camera.enabled_models.filter((m) => m !== model);
    save.mutate(on ? [...current, model] : current);
  };

  return (
    <section className="panel models" aria-labelledby="models-title">
      <h2 id="models-title">AI models</h2>
      {models.isPending ? (
        <Loading />
      ) : models.isError ? (
        <ErrorState error={models.error} onRetry={() => void models.refetch()} />
      ) : (
        <ul className="model-list" aria-label="AI models">
          {models.data.map((m) => {
            const reason = blockedReason(m);
            const note =
              reason ??
              (m.enabled && m.compatible === false
                ? m.reason // enabled before a re-probe found the stream too weak
                : m.compatible === null && m.licensed
                  ? "Not verified yet: probe the stream to check it."
                  : null);
            return (
              <li key={m.model} data-testid={`model-${m.model}`}>
                <label className="check">
                  <input
                    type="checkbox"
                    role="switch"
                    checked={m.enabled}
                    disabled={!operator || reason !== null || save.isPending}
                    aria-describedby={note ? `model-note-${m.model}` : undefined}
                    onChange={(e) => toggle(m.model, e.target.checked)}
                  />
                  <span>
                    {m.title}
                    {m.enabled && m.stream && <span className="muted"> · on the {m.stream} stream</span>}
                  </span>
                </label>
                <span className="muted needs">
                  needs {m.min_height}p, {m.min_bitrate_kbps} kbit/s
                </span>
                {note && (
                  <p id={`model-note-${m.model}`} className={reason ? "why-off" : "help"}>
                    {note}
                  </p>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {save.isError && <ProblemMessage error={save.error} />}
    </section>
  );
}

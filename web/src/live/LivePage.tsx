// The live wall: 1, 4, 9 or 16 tiles, each a camera over WebRTC with HLS fallback. Which cameras and
// layout are in the URL (?layout=4&cams=id,id), so a wall can be bookmarked or shared; `?mode=hls`
// or `?mode=webrtc` forces a transport (troubleshooting, and the browser tests).
import { useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap, type CameraRead } from "../api";
import { useCameraNames } from "../api/queries";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { StatusBadge } from "../components/StatusBadge";
import { columns, decodeTiles, encodeTiles, fillTiles, LAYOUT_KEYS, LAYOUTS, parseLayout, placeCamera, type Layout } from "./layout";
import type { Mode } from "./liveState";
import { LiveTile } from "./LiveTile";
import "./live.css";

function parseMode(raw: string | null): Mode | null {
  return raw === "hls" || raw === "webrtc" ? raw : null;
}

export default function LivePage() {
  const [params, setParams] = useSearchParams();
  const layout = parseLayout(params.get("layout"));
  const forced = parseMode(params.get("mode"));
  const cameras = useCameraNames();
  const [selected, setSelected] = useState(0);
  const [maximised, setMaximised] = useState<number | null>(null);
  const [filter, setFilter] = useState("");
  const wallRef = useRef<HTMLDivElement>(null);
  const status = useQuery({
    queryKey: ["live", "status"],
    queryFn: async () => unwrap(await api.GET("/api/v1/live/status")),
    staleTime: 30_000,
  });

  const all = useMemo(() => [...(cameras.data?.values() ?? [])], [cameras.data]);
  const chosen = decodeTiles(params.get("cams"));
  const tiles = fillTiles(chosen, all.map((c) => c.id), layout);

  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) (v ? next.set(k, v) : next.delete(k));
    setParams(next, { replace: true });
  };
  const setLayout = (l: Layout) => {
    setMaximised(null);
    setSelected((s) => Math.min(s, l - 1));
    update({ layout: String(l) }); // the chosen cameras stay in the URL, so 4 → 1 → 4 gives the same wall
  };
  // Tiles beyond the current layout (chosen on a bigger one) are kept for when it comes back.
  const setTiles = (next: (string | null)[]) => update({ cams: encodeTiles([...next, ...chosen.slice(layout)]) || "," });
  const toggleMaximise = (slot: number) => {
    if (maximised === slot) {
      setMaximised(null);
      if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    } else {
      setMaximised(slot);
      setSelected(slot);
      void wallRef.current?.requestFullscreen?.().catch(() => undefined); // stays maximised in the page if refused
    }
  };

  useEffect(() => {
    const onChange = () => !document.fullscreenElement && setMaximised(null);
    document.addEventListener("fullscreenchange", onChange);
    return () => document.removeEventListener("fullscreenchange", onChange);
  }, []);

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const target = e.target as HTMLElement | null;
      if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      const l = LAYOUT_KEYS[e.key];
      if (l) {
        setLayout(l);
        e.preventDefault();
      } else if (e.key === "f" && tiles[selected]) {
        toggleMaximise(selected);
        e.preventDefault();
      } else if (e.key === "Escape" && maximised !== null) {
        toggleMaximise(maximised);
      }
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const byId = cameras.data ?? new Map<string, CameraRead>();
  const shown = all.filter((c) => c.name.toLowerCase().includes(filter.trim().toLowerCase()));
  const webrtcDown = status.data && status.data.webrtc !== "available";

  return (
    <section aria-labelledby="live-title" className="live">
      <div className="page-head">
        <h1 id="live-title">Live</h1>
        <div className="live-toolbar">
          <div role="group" aria-label="Layout" className="segmented">
            {LAYOUTS.map((l) => (
              <button key={l} type="button" aria-pressed={layout === l} onClick={() => setLayout(l)}>
                {l === 1 ? "1 camera" : `${l} cameras`}
              </button>
            ))}
          </div>
          <p className="help" id="live-keys">
            Keys: <kbd>1</kbd> <kbd>4</kbd> <kbd>9</kbd> <kbd>6</kbd> layout (6 = 16), <kbd>f</kbd> full screen of the
            selected tile, <kbd>Esc</kbd> back. Double-click a tile for full screen.
          </p>
        </div>
      </div>
      {webrtcDown && (
        <p className="notice" role="status">
          WebRTC is unavailable on this server{status.data?.reason ? ` (${status.data.reason})` : ""}: tiles play HLS,
          a few seconds behind live.
        </p>
      )}
      {forced && (
        <p className="notice" role="status">
          Transport forced to {forced === "hls" ? "HLS" : "WebRTC"} by the address (<code>mode={forced}</code>).{" "}
          <button type="button" className="link" onClick={() => update({ mode: undefined })}>
            Back to automatic
          </button>
        </p>
      )}
      {cameras.isPending ? (
        <Loading label="Loading cameras…" />
      ) : cameras.isError ? (
        <ErrorState error={cameras.error} onRetry={() => void cameras.refetch()} />
      ) : all.length === 0 ? (
        <EmptyState title="No cameras to watch yet">
          <p>
            Add a camera on the <Link to="/cameras?add=1">Cameras</Link> page; it appears here as soon as it is added.
          </p>
        </EmptyState>
      ) : (
        <div className="live-split">
          <aside className="live-picker" aria-labelledby="live-picker-title">
            <h2 id="live-picker-title">Cameras</h2>
            <label>
              Find a camera
              <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="Name" />
            </label>
            <p className="help">Choose a camera to show it in the selected tile (tile {selected + 1}).</p>
            <ul aria-label="Cameras to show">
              {shown.map((c) => (
                <li key={c.id}>
                  <button
                    type="button"
                    aria-pressed={tiles.includes(c.id)}
                    onClick={() => {
                      const next = placeCamera(tiles, c.id, selected);
                      setTiles(next);
                      if (next.indexOf(null) >= 0) setSelected(next.indexOf(null)); // fill the wall in a few clicks
                    }}
                    aria-label={`Show ${c.name} in tile ${selected + 1}`}
                  >
                    <span>{c.name}</span> <StatusBadge status={c.status} />
                  </button>
                </li>
              ))}
              {shown.length === 0 && <li className="muted">No camera matches “{filter}”.</li>}
            </ul>
          </aside>
          <div
            ref={wallRef}
            className={maximised !== null ? "live-wall maximised" : "live-wall"}
            style={{ gridTemplateColumns: `repeat(${maximised !== null ? 1 : columns(layout)}, minmax(0, 1fr))` }}
            aria-label="Live wall"
            aria-describedby="live-keys"
            role="region"
          >
            {tiles.map((id, slot) => {
              if (maximised !== null && slot !== maximised) return null;
              const camera = id ? byId.get(id) : undefined;
              if (!camera)
                return (
                  <button
                    key={`empty-${slot}`}
                    type="button"
                    className={`live-tile live-empty${slot === selected ? " selected" : ""}`}
                    onClick={() => setSelected(slot)}
                    aria-label={`Empty tile ${slot + 1}: select it, then choose a camera from the list`}
                  >
                    {id ? "Camera not found (deleted or not yours)" : "Empty — choose a camera from the list"}
                  </button>
                );
              return (
                <LiveTile
                  key={`${slot}-${camera.id}`}
                  camera={camera}
                  large={layout === 1 || maximised === slot}
                  forced={forced}
                  selected={slot === selected}
                  maximised={maximised === slot}
                  onSelect={() => setSelected(slot)}
                  onMaximise={() => toggleMaximise(slot)}
                  onRemove={() => setTiles(tiles.map((t, i) => (i === slot ? null : t)))}
                />
              );
            })}
          </div>
        </div>
      )}
    </section>
  );
}

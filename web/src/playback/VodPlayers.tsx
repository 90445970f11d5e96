// Recorded video of one to four cameras over the same window, side by side and in step. Each plays
// its VOD HLS playlist (signed URLs from POST /playback/urls) with hls.js. Playlists carry
// EXT-X-PROGRAM-DATE-TIME, so every fragment knows its wall-clock time: a seek goes to the same
// moment on every camera, and twice a second the other cameras are pulled to the first one's
// moment (gaps are not part of playlist time, so positions alone would not line up).
import { useEffect, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api";
import { ErrorState, Loading } from "../components/States";
import { attachHls, playlistTimeFor, type HlsHandle } from "../live/hls";
import type { TimeWindow } from "./timeline";

export interface Seek {
  at: number;
  /** Bumped by every seek, so seeking twice to the same moment still seeks. */
  nonce: number;
}

const SYNC_MS = 500;
const DRIFT_S = 0.75;
const SPEEDS = [0.5, 1, 2, 4, 8];

function fragmentsOf(handle: HlsHandle | null) {
  const hls = handle?.hls;
  if (!hls) return [];
  const level = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : hls.firstLevel];
  return level?.details?.fragments ?? [];
}

/** Playlist position of wall-clock `at` in a player: that moment, else the next recorded one. */
function positionOf(handle: HlsHandle | null, at: number): number | null {
  const fragments = fragmentsOf(handle);
  const exact = playlistTimeFor(fragments, at);
  if (exact !== null) return exact;
  const next = fragments.find((f) => f.programDateTime != null && f.programDateTime > at);
  return next ? next.start : null;
}

export function VodPlayers({
  cameras,
  window: w,
  seek,
  onPlayhead,
}: {
  cameras: { id: string; name: string }[];
  window: TimeWindow;
  seek: Seek | null;
  onPlayhead(at: number | null): void;
}) {
  const ids = cameras.map((c) => c.id);
  const urls = useQuery({
    queryKey: ["playback", "urls", ids.join(","), w.start, w.end],
    queryFn: async () =>
      unwrap(
        await api.POST("/api/v1/playback/urls", {
          body: { camera_ids: ids, start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() },
        }),
      ),
    staleTime: Infinity, // the tokens last for the range's length beyond token_ttl_s: enough to play it through
    gcTime: 0,
  });
  const videos = useRef<(HTMLVideoElement | null)[]>([]);
  const players = useRef<(HlsHandle | null)[]>([]);
  const seekRef = useRef(seek);
  seekRef.current = seek;
  const onPlayheadRef = useRef(onPlayhead);
  onPlayheadRef.current = onPlayhead;
  const [problems, setProblems] = useState<Record<number, string>>({});
  const [outside, setOutside] = useState<Record<number, boolean>>({});
  const [speed, setSpeed] = useState(1);

  const seekAll = (at: number) => {
    players.current.forEach((handle, i) => {
      const video = videos.current[i];
      const t = positionOf(handle, at);
      if (!video || t === null) return;
      video.currentTime = t;
      void video.play().catch(() => undefined);
    });
  };

  useEffect(() => {
    const entries = urls.data?.cameras ?? [];
    let stopped = false;
    setProblems({});
    entries.forEach((entry, i) => {
      const video = videos.current[i];
      if (!video || !entry.vod_master) return;
      attachHls(video, entry.vod_master, {
        live: false,
        stream: entries.length > 1 ? "sub" : undefined,
        onFatal: (reason) => setProblems((p) => ({ ...p, [i]: reason })),
        onFirstLevel: () => {
          // A seek asked for before the playlist was known: go there now.
          const s = seekRef.current;
          const t = s ? positionOf(players.current[i] ?? null, s.at) : null;
          if (t !== null) video.currentTime = t;
        },
      }).then(
        (handle) => {
          if (stopped) return handle.destroy();
          players.current[i] = handle;
        },
        (error: unknown) => setProblems((p) => ({ ...p, [i]: error instanceof Error ? error.message : String(error) })),
      );
    });
    return () => {
      stopped = true;
      players.current.forEach((h) => h?.destroy());
      players.current = [];
    };
  }, [urls.data]);

  useEffect(() => {
    if (seek) seekAll(seek.at); // once per seek asked for (the nonce), not on every render
  }, [seek?.nonce]);

  useEffect(() => {
    videos.current.forEach((v) => v && (v.playbackRate = speed));
  }, [speed, urls.data]);

  useEffect(() => {
    const timer = setInterval(() => {
      const lead = players.current[0]?.hls;
      const leadVideo = videos.current[0];
      const date = lead?.playingDate?.getTime() ?? null;
      onPlayheadRef.current(date);
      if (date === null || !leadVideo) return;
      const away: Record<number, boolean> = {};
      players.current.slice(1).forEach((handle, j) => {
        const i = j + 1;
        const video = videos.current[i];
        if (!video || !handle) return;
        const t = playlistTimeFor(fragmentsOf(handle), date);
        away[i] = t === null;
        if (t === null) {
          if (!video.paused) video.pause(); // nothing recorded at the leader's moment on this camera
          return;
        }
        if (Math.abs(video.currentTime - t) > DRIFT_S) video.currentTime = t;
        if (leadVideo.paused !== video.paused) void (leadVideo.paused ? video.pause() : video.play().catch(() => undefined));
      });
      setOutside((o) => (JSON.stringify(o) === JSON.stringify(away) ? o : away));
    }, SYNC_MS);
    return () => clearInterval(timer);
  }, [urls.data]);

  if (urls.isPending) return <Loading label="Preparing playback…" />;
  if (urls.isError) return <ErrorState error={urls.error} onRetry={() => void urls.refetch()} />;

  return (
    <div className="vod">
      <div className="vod-toolbar">
        <label>
          Speed
          <select value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
        </label>
        {cameras.length > 1 && <p className="help">The first camera leads; the others follow its moment.</p>}
      </div>
      <div className={`vod-grid vod-${cameras.length}`}>
        {cameras.map((c, i) => (
          <figure key={c.id} className="vod-tile" data-testid="vod-tile">
            <video
              ref={(el) => (videos.current[i] = el)}
              muted
              playsInline
              controls={i === 0}
              aria-label={`Recorded video of ${c.name}`}
            />
            <figcaption>
              {c.name}
              {i === 0 && cameras.length > 1 ? " (leads)" : ""}
              {outside[i] && <span className="muted"> — no recording at this moment</span>}
            </figcaption>
            {problems[i] && (
              <p className="problem" role="alert">
                {problems[i]}
              </p>
            )}
            {!urls.data.cameras[i]?.vod_master && <p className="muted">No playlist for this camera.</p>}
          </figure>
        ))}
      </div>
    </div>
  );
}

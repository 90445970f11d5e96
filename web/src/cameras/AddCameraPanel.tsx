// The three ways to add cameras, as tabs: one by its RTSP address, discovery on the network, or a
// sheet import. The tab is in the URL (?add=rtsp|discover|import) so each can be linked and reloaded.
import { lazy, Suspense, useRef, type KeyboardEvent } from "react";
import { Loading } from "../components/States";
import { ADD_TABS, type AddTab } from "./addTabs";
import "./cameras.css";

const RtspForm = lazy(() => import("./RtspForm"));
const DiscoveryPanel = lazy(() => import("./DiscoveryPanel"));
const ImportPanel = lazy(() => import("./ImportPanel"));

export default function AddCameraPanel({
  tab,
  onTab,
  onClose,
}: {
  tab: AddTab;
  onTab: (t: AddTab) => void;
  onClose: () => void;
}) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  // Arrow keys move between tabs (WAI-ARIA tabs pattern); Tab goes into the panel.
  const onKey = (e: KeyboardEvent, i: number) => {
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step && e.key !== "Home" && e.key !== "End") return;
    e.preventDefault();
    const n = ADD_TABS.length;
    const next = e.key === "Home" ? 0 : e.key === "End" ? n - 1 : (i + step + n) % n;
    onTab(ADD_TABS[next]!.key);
    refs.current[next]?.focus();
  };
  return (
    <div className="add-cameras">
      <div role="tablist" aria-label="Ways to add cameras" className="tabs">
        {ADD_TABS.map((t, i) => (
          <button
            key={t.key}
            ref={(el) => (refs.current[i] = el)}
            type="button"
            role="tab"
            id={`add-tab-${t.key}`}
            aria-selected={tab === t.key}
            aria-controls={`add-panel-${t.key}`}
            tabIndex={tab === t.key ? 0 : -1}
            onClick={() => onTab(t.key)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`add-panel-${tab}`} aria-labelledby={`add-tab-${tab}`}>
        <Suspense fallback={<Loading />}>
          {tab === "rtsp" ? <RtspForm onClose={onClose} /> : tab === "discover" ? <DiscoveryPanel /> : <ImportPanel />}
        </Suspense>
      </div>
    </div>
  );
}

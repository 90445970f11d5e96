// A small bar chart in SVG, no chart library (the dashboard is on the first route's budget).
// The drawing is hidden from assistive technology; the same figures are a table for screen readers.

export interface Bar {
  key: string;
  label: string;
  value: number;
  /** Longer text for the tooltip and the table, e.g. "14:00–15:00 (so far)". */
  title?: string;
}

const W = 720;
const H = 220;
const PAD = { top: 12, right: 8, bottom: 28, left: 40 };

/** 1, 2, 5 × 10^n at or above `max`, so the axis reads in round numbers. */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return ([1, 2, 5, 10].find((m) => m * p >= max) ?? 10) * p;
}

export function BarChart({
  bars,
  caption,
  unit,
  category,
  labelEvery = 3,
}: {
  bars: Bar[];
  /** What the chart shows; also the table's caption. */
  caption: string;
  /** The value's unit in the table's header, e.g. "Events". */
  unit: string;
  /** The first column's header in the table, e.g. "Hour". */
  category: string;
  /** Draw every n-th label under the axis. */
  labelEvery?: number;
}) {
  const top = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, bars.length);
  const barW = Math.max(1, slot * 0.7);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const ticks = Number.isInteger(top / 2) ? [0, top / 2, top] : [0, top]; // counts: whole numbers only
  return (
    <figure className="chart">
      <div className="chart-scroll">
        <svg viewBox={`0 0 ${W} ${H}`} aria-hidden="true" focusable="false" data-testid="bar-chart">
          {ticks.map((t) => (
            <g key={t} className="chart-grid">
              <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} />
              <text x={PAD.left - 6} y={y(t)} dy="0.32em" textAnchor="end">
                {t}
              </text>
            </g>
          ))}
          {bars.map((b, i) => {
            const x = PAD.left + i * slot + (slot - barW) / 2;
            const h = Math.max(b.value > 0 ? 1 : 0, y(0) - y(b.value));
            return (
              <g key={b.key} className="chart-bar">
                <rect x={x} y={y(0) - h} width={barW} height={h} data-value={b.value}>
                  <title>{`${b.title ?? b.label}: ${b.value}`}</title>
                </rect>
                {i % labelEvery === 0 || i === bars.length - 1 ? (
                  <text className="chart-label" x={x + barW / 2} y={H - PAD.bottom + 16} textAnchor="middle">
                    {b.label}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
      </div>
      <table className="sr-only">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{category}</th>
            <th scope="col">{unit}</th>
          </tr>
        </thead>
        <tbody>
          {bars.map((b) => (
            <tr key={b.key}>
              <th scope="row">{b.title ?? b.label}</th>
              <td>{b.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

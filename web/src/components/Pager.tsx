// Previous / next paging over an offset list ({items, total, limit, offset}).

export function Pager({
  offset,
  total,
  shown,
  onPage,
  size = 25,
}: {
  offset: number;
  total: number;
  shown: number;
  onPage: (offset: number) => void;
  size?: number;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - size))}>
        Previous
      </button>
      <span aria-live="polite">
        {total === 0 ? "0" : `${offset + 1}–${offset + shown}`} of {total}
      </span>
      <button type="button" disabled={offset + shown >= total} onClick={() => onPage(offset + size)}>
        Next
      </button>
    </nav>
  );
}

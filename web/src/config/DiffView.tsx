// What a change does: each effective value before and after with the level that sets it (a dry
// run's answer), or how a node's own overrides differ between two versions.
import type { Schemas } from "../api";
import { formatValue, type EffectiveValue } from "./model";
import { TableHead } from "../components/TableHead";

export function LevelBadge({ level }: { level: EffectiveValue["level"] }) {
  return (
    <span className={`badge badge-level badge-level-${level}`} title={`Set at the ${level} level`}>
      {level}
    </span>
  );
}

export function EffectiveDiff({ changes }: { changes: Schemas["ValueChange"][] }) {
  if (changes.length === 0) return <p className="muted" role="status">Nothing would change: the values are already in effect.</p>;
  return (
    <table className="table diff" data-testid="effective-diff">
      <caption className="sr-only">Effective values that change</caption>
      <TableHead columns={["Parameter", "Before", "After"]} />
      <tbody>
        {changes.map((c) => (
          <tr key={c.key}>
            <th scope="row" className="mono">{c.key}</th>
            <td className="diff-before">
              {formatValue(c.before.value)} <LevelBadge level={c.before.level} />
            </td>
            <td className="diff-after">
              {formatValue(c.after.value)} <LevelBadge level={c.after.level} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const CHANGE_WORDS = { added: "set", removed: "removed", changed: "changed" } as const;

export function OverrideDiff({ changes }: { changes: Schemas["OverrideChange"][] }) {
  if (changes.length === 0) return <p className="muted" role="status">The two versions set the same values.</p>;
  return (
    <table className="table diff" data-testid="override-diff">
      <caption className="sr-only">Overrides that differ</caption>
      <TableHead columns={["Parameter", "Change", "From", "To"]} />
      <tbody>
        {changes.map((c) => (
          <tr key={c.key}>
            <th scope="row" className="mono">{c.key}</th>
            <td>{CHANGE_WORDS[c.change]}</td>
            <td className="diff-before">{c.change === "added" ? "—" : formatValue(c.before)}</td>
            <td className="diff-after">{c.change === "removed" ? "(level below applies)" : formatValue(c.after)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

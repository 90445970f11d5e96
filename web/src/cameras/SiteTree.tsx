// The Cameras screen's location tree: site → building → floor → zone with camera counts, each node
// a filter for the camera list. "Edit tree" turns on adding, renaming, moving and deleting nodes
// (Admins and Supervisors of the whole customer; the API refuses a scoped user, so the button is
// replaced by the reason). The API keeps the levels in order and refuses to delete a node that
// still holds something (409); its message is shown where the action was taken.
import { useState, type FormEvent, type ReactNode } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type NodeTree, type Schemas, type UserRead } from "../api";
import { keys, useSiteTree } from "../api/queries";
import { canOperate, useMe } from "../auth/useAuth";
import { CountBadges } from "../components/StatusBadge";
import { ErrorState, Loading, ProblemMessage } from "../components/States";
import { cameraKeys } from "./queries";
import "./cameras.css";

export type NodeKind = Schemas["NodeKind"];
const CHILD: Record<NodeKind, NodeKind | null> = { site: "building", building: "floor", floor: "zone", zone: null };
const PARENT: Record<NodeKind, NodeKind | null> = { site: null, building: "site", floor: "building", zone: "floor" };

type Action = { op: "add" | "rename" | "move" | "delete"; node: NodeTree } | { op: "add-site" };

/** The id of the button that opened an action's form, so closing the form can give it the focus back. */
const opener = (a: Action) => ("node" in a ? `tree-${a.op}-${a.node.id}` : "tree-add-site");

/** Whether this user may change the tree, or why not (shown instead of the Edit button). */
export function treeEditing(user: UserRead | undefined): { allowed: boolean; reason?: string } {
  if (!user) return { allowed: false };
  if (!canOperate(user)) return { allowed: false, reason: "Only an Admin or a Supervisor can change the site tree." };
  if ((user.scope_node_ids ?? []).length > 0) {
    return { allowed: false, reason: "Your account is limited to part of the site tree, so the tree is changed by an Admin of the whole organisation." };
  }
  return { allowed: true };
}

/** Every node of `kind` with its path, for the Move picker. */
function nodesOfKind(sites: NodeTree[], kind: NodeKind): { id: string; path: string }[] {
  const out: { id: string; path: string }[] = [];
  const walk = (nodes: NodeTree[], above: string[]) => {
    for (const n of nodes) {
      const path = [...above, n.name];
      if (n.kind === kind) out.push({ id: n.id, path: path.join(" › ") });
      walk(n.children ?? [], path);
    }
  };
  walk(sites, []);
  return out;
}

export function SiteTreePanel({ selected, onSelect }: { selected?: string; onSelect: (id: string | undefined) => void }) {
  const tree = useSiteTree();
  const me = useMe();
  const editing = treeEditing(me.data);
  const [edit, setEdit] = useState(false);
  const [action, setAction] = useState<Action | null>(null);
  const on = edit && editing.allowed;
  const editor = { action, setAction, sites: tree.data?.sites ?? [] };

  return (
    <aside className="tree-pane" aria-labelledby="tree-title">
      <div className="tree-head">
        <h2 id="tree-title">Sites</h2>
        {editing.allowed && (
          <button
            type="button"
            className="link"
            aria-pressed={on}
            onClick={() => {
              setEdit(!on);
              setAction(null);
            }}
          >
            {on ? "Done" : "Edit tree"}
          </button>
        )}
      </div>
      {editing.reason && <p className="muted tree-why">{editing.reason}</p>}
      {tree.isPending ? (
        <Loading />
      ) : tree.isError ? (
        <ErrorState error={tree.error} onRetry={() => void tree.refetch()} />
      ) : (
        <>
          {on && (
            <div className="tree-add-site">
              {action?.op === "add-site" ? (
                <NodeForm {...editor} action={action} />
              ) : (
                <button type="button" id="tree-add-site" onClick={() => setAction({ op: "add-site" })}>
                  Add site
                </button>
              )}
            </div>
          )}
          <ul className="tree" aria-label="Site tree">
            <li>
              <button type="button" className="tree-select" aria-pressed={!selected} onClick={() => onSelect(undefined)}>
                All cameras{" "}
                <CountBadges online={tree.data.total.online_count} offline={tree.data.total.offline_count} total={tree.data.total.camera_count} />
              </button>
            </li>
            {tree.data.sites.map((n) => (
              <TreeNode key={n.id} node={n} selected={selected} onSelect={onSelect} editor={on ? editor : null} />
            ))}
            {tree.data.sites.length === 0 && (
              <li className="muted">
                {editing.allowed
                  ? "No sites yet. Choose “Edit tree”, then “Add site”; add buildings, floors and zones under it, then put cameras in the zones."
                  : "No sites yet. An Admin of your organisation arranges cameras in sites, buildings, floors and zones."}
              </li>
            )}
            {tree.data.unassigned.camera_count > 0 && (
              <li className="muted">{tree.data.unassigned.camera_count} camera(s) in no zone</li>
            )}
          </ul>
        </>
      )}
    </aside>
  );
}

interface Editor {
  action: Action | null;
  setAction: (a: Action | null) => void;
  sites: NodeTree[];
}

function TreeNode({
  node,
  selected,
  onSelect,
  editor,
}: {
  node: NodeTree;
  selected?: string;
  onSelect: (id: string) => void;
  editor: Editor | null;
}) {
  const child = CHILD[node.kind];
  const mine = editor?.action && "node" in editor.action && editor.action.node.id === node.id ? editor.action : null;
  const act = (op: "add" | "rename" | "move" | "delete") => editor?.setAction(mine?.op === op ? null : { op, node });
  return (
    <li>
      <button type="button" className="tree-select" aria-pressed={selected === node.id} onClick={() => onSelect(node.id)}>
        <span className="kind">{node.kind}</span> {node.name}{" "}
        <CountBadges online={node.online_count} offline={node.offline_count} total={node.camera_count} />
      </button>
      {editor && (
        <div className="node-actions" role="group" aria-label={`Change ${node.kind} ${node.name}`}>
          {child && (
            <button type="button" id={`tree-add-${node.id}`} aria-expanded={mine?.op === "add"} onClick={() => act("add")}>
              Add {child}
            </button>
          )}
          <button type="button" id={`tree-rename-${node.id}`} aria-expanded={mine?.op === "rename"} onClick={() => act("rename")}>
            Rename
          </button>
          {PARENT[node.kind] && (
            <button type="button" id={`tree-move-${node.id}`} aria-expanded={mine?.op === "move"} onClick={() => act("move")}>
              Move
            </button>
          )}
          <button
            type="button"
            id={`tree-delete-${node.id}`}
            className="danger"
            aria-expanded={mine?.op === "delete"}
            onClick={() => act("delete")}
          >
            Delete
          </button>
        </div>
      )}
      {editor && mine && <NodeForm {...editor} action={mine} />}
      {(node.children ?? []).length > 0 && (
        <ul>
          {(node.children ?? []).map((c) => (
            <TreeNode key={c.id} node={c} selected={selected} onSelect={onSelect} editor={editor} />
          ))}
        </ul>
      )}
    </li>
  );
}

/** The inline form of one action: a name, a new parent, or a confirmation. */
function NodeForm({ action, setAction, sites }: Editor & { action: Action }) {
  const client = useQueryClient();
  const close = () => {
    setAction(null);
    // keyboard users continue where they were (a deleted node's button is gone: nothing to focus)
    window.setTimeout(() => document.getElementById(opener(action))?.focus(), 0);
  };
  const node = "node" in action ? action.node : null;
  const parentKind = node ? PARENT[node.kind] : null;
  const targets = action.op === "move" && parentKind ? nodesOfKind(sites, parentKind) : [];
  const currentParent = targets.find((t) => (findNode(sites, t.id)?.children ?? []).some((c) => c.id === node?.id));
  const [name, setName] = useState(action.op === "rename" ? node!.name : "");
  const [parent, setParent] = useState(currentParent?.id ?? "");
  const save = useMutation({
    mutationFn: async () => {
      if (action.op === "add-site" || action.op === "add") {
        const kind = action.op === "add-site" ? "site" : CHILD[action.node.kind]!;
        const parent_id = action.op === "add" ? action.node.id : null;
        return unwrap(await api.POST("/api/v1/nodes", { body: { kind, name: name.trim(), parent_id } }));
      }
      const path = { node_id: action.node.id };
      if (action.op === "delete") return unwrap(await api.DELETE("/api/v1/nodes/{node_id}", { params: { path } }));
      const body = action.op === "rename" ? { name: name.trim() } : { parent_id: parent };
      return unwrap(await api.PATCH("/api/v1/nodes/{node_id}", { params: { path }, body }));
    },
    onSuccess: async () => {
      close();
      await Promise.all([
        client.invalidateQueries({ queryKey: keys.tree }),
        client.invalidateQueries({ queryKey: cameraKeys.zones }),
        client.invalidateQueries({ queryKey: keys.cameras }),
      ]);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const cancel = (
    <button type="button" onClick={close}>
      Cancel
    </button>
  );
  const wrap = (label: string, body: ReactNode) => (
    <form
      className="node-form"
      aria-label={label}
      onSubmit={submit}
      onKeyDown={(e) => {
        if (e.key === "Escape") close();
      }}
    >
      {body}
      {save.isError && <ProblemMessage error={save.error} />}
    </form>
  );

  if (action.op === "delete") {
    const holds = action.node.camera_count > 0 || (action.node.children ?? []).length > 0;
    return wrap(
      `Delete ${action.node.kind} ${action.node.name}`,
      <>
        <p>
          Delete the {action.node.kind} <strong>{action.node.name}</strong>?
          {holds ? " It still holds something; the server will say what to move first." : " It is empty."}
        </p>
        <div className="row">
          <button type="submit" className="danger" disabled={save.isPending} autoFocus>
            {save.isPending ? "Deleting…" : "Delete"}
          </button>
          {cancel}
        </div>
      </>,
    );
  }
  if (action.op === "move") {
    return wrap(
      `Move ${action.node.kind} ${action.node.name}`,
      <>
        <label>
          Move {action.node.name} under the {parentKind}
          <select value={parent} onChange={(e) => setParent(e.target.value)} autoFocus>
            {targets.map((t) => (
              <option key={t.id} value={t.id}>
                {t.path}
              </option>
            ))}
          </select>
        </label>
        <div className="row">
          <button type="submit" className="primary" disabled={save.isPending || !parent || parent === currentParent?.id}>
            {save.isPending ? "Moving…" : "Move"}
          </button>
          {cancel}
        </div>
      </>,
    );
  }
  const label =
    action.op === "rename"
      ? `New name for ${action.node.kind} ${action.node.name}`
      : action.op === "add"
        ? `Name of the new ${CHILD[action.node.kind]} in ${action.node.name}`
        : "Name of the new site";
  return wrap(
    action.op === "rename"
      ? `Rename ${action.node.kind} ${action.node.name}`
      : action.op === "add"
        ? `Add a ${CHILD[action.node.kind]} to ${action.node.name}`
        : "Add a site",
    <>
      <label>
        {label}
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required autoFocus />
      </label>
      <div className="row">
        <button type="submit" className="primary" disabled={save.isPending || !name.trim()}>
          {save.isPending ? "Saving…" : action.op === "rename" ? "Rename" : "Add"}
        </button>
        {cancel}
      </div>
    </>,
  );
}

function findNode(nodes: NodeTree[], id: string): NodeTree | undefined {
  for (const n of nodes) {
    if (n.id === id) return n;
    const below = findNode(n.children ?? [], id);
    if (below) return below;
  }
  return undefined;
}

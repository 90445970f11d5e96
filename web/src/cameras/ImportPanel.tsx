// Bulk import from a CSV or XLSX sheet: a dry run first (the server runs every check and rolls back,
// so its report is exactly what the import will do), then the real import. Rows are upserted by
// external_id, so importing the same sheet twice changes nothing.
import { useRef, useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api";
import { keys } from "../api/queries";
import { ProblemMessage } from "../components/States";
import type { ImportReport } from "./queries";
import { TableHead } from "../components/TableHead";

async function upload(file: File, dryRun: boolean, probe: boolean): Promise<ImportReport> {
  const form = new FormData();
  form.append("file", file, file.name);
  return unwrap(
    await api.POST("/api/v1/cameras/import", {
      params: { query: { dry_run: dryRun, probe } },
      body: { file: "" }, // replaced by the form below; the schema types the field as a string
      bodySerializer: () => form,
    }),
  );
}

async function downloadTemplate(format: "csv" | "xlsx"): Promise<void> {
  const { data, response } = await api.GET("/api/v1/cameras/import/template", {
    params: { query: { format } },
    parseAs: "blob",
  });
  if (!response.ok || !data) throw new Error(`The template could not be downloaded (${response.status}).`);
  const url = URL.createObjectURL(data as Blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `cameras-import-template.${format}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export default function ImportPanel() {
  const client = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [probe, setProbe] = useState(false);
  const check = useMutation({ mutationFn: (f: File) => upload(f, true, probe) });
  const run = useMutation({
    mutationFn: (f: File) => upload(f, false, probe),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.cameras });
      void client.invalidateQueries({ queryKey: keys.tree });
    },
  });
  const template = useMutation({ mutationFn: downloadTemplate });

  const choose = (f: File | null) => {
    setFile(f);
    check.reset();
    run.reset();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (file) {
      run.reset();
      check.mutate(file);
    }
  };
  const writable = check.data ? check.data.created + check.data.updated : 0;

  return (
    <section className="panel import" aria-labelledby="import-title">
      <h2 id="import-title">Import cameras from a sheet</h2>
      <p className="help">
        One camera per row; <code>external_id</code> is the key, so a second import of the same sheet updates rather
        than duplicates. Start from a template:{" "}
        <button type="button" className="link" onClick={() => template.mutate("csv")}>
          CSV template
        </button>{" "}
        ·{" "}
        <button type="button" className="link" onClick={() => template.mutate("xlsx")}>
          Excel template
        </button>
      </p>
      {template.isError && <ProblemMessage error={template.error} />}
      <form onSubmit={submit} aria-label="Import file">
        <label>
          CSV or Excel file
          <input
            ref={fileInput}
            type="file"
            accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            onChange={(e) => choose(e.target.files?.[0] ?? null)}
          />
        </label>
        <label className="check">
          <input type="checkbox" checked={probe} onChange={(e) => setProbe(e.target.checked)} />
          Probe every new or changed stream (slower: a few seconds per camera, 8 at a time)
        </label>
        <button type="submit" className="primary" disabled={!file || check.isPending}>
          {check.isPending ? "Checking…" : "Check the file"}
        </button>
      </form>
      {check.isError && <ProblemMessage error={check.error} />}
      {check.data && !run.data && (
        <>
          <ReportView report={check.data} />
          <div className="row">
            <button
              type="button"
              className="primary"
              disabled={run.isPending || writable === 0}
              onClick={() => file && run.mutate(file)}
            >
              {run.isPending
                ? "Importing…"
                : writable === 0
                  ? "Nothing to import"
                  : `Import ${writable} camera${writable === 1 ? "" : "s"}${check.data.failed ? `, skip ${check.data.failed} bad row${check.data.failed === 1 ? "" : "s"}` : ""}`}
            </button>
            <button type="button" onClick={() => fileInput.current?.click()}>
              Choose another file
            </button>
          </div>
        </>
      )}
      {run.isError && <ProblemMessage error={run.error} />}
      {run.data && <ReportView report={run.data} />}
    </section>
  );
}

/** The server's import report: counts, then each row error with its row number and column. */
export function ReportView({ report }: { report: ImportReport }) {
  const would = report.dry_run ? "would be " : "";
  return (
    <div className="import-report" data-testid="import-report" role="status">
      <h3>{report.dry_run ? "Dry run: nothing has been written yet" : "Import finished"}</h3>
      <ul className="report-counts">
        <li>
          <strong>{report.total_rows}</strong> rows read
        </li>
        <li>
          <strong>{report.created}</strong> {would}created
        </li>
        <li>
          <strong>{report.updated}</strong> {would}updated
        </li>
        <li>
          <strong>{report.unchanged}</strong> unchanged
        </li>
        <li className={report.failed ? "bad" : undefined}>
          <strong>{report.failed}</strong> with errors{report.dry_run ? "" : " (skipped)"}
        </li>
      </ul>
      {report.errors.length > 0 && (
        <div className="table-wrap">
          <table className="table" aria-label="Row errors">
            <TableHead columns={["Row", "Column", "Problem"]} />
            <tbody>
              {report.errors.map((e, i) => (
                <tr key={`${e.row}-${e.field}-${i}`} data-testid="row-error">
                  <th scope="row">{e.row}</th>
                  <td className="mono">{e.field ?? "(whole row)"}</td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="help">Row numbers are as your spreadsheet shows them (the header is row 1). Fix them and check the file again.</p>
        </div>
      )}
    </div>
  );
}

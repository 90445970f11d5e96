// A table's header row: one column header per name, and an optional last column for row buttons whose
// name only screen readers need (the buttons say what they do).

export function TableHead({ columns, action }: { columns: string[]; action?: string }) {
  return (
    <thead>
      <tr>
        {columns.map((name) => (
          <th scope="col" key={name}>
            {name}
          </th>
        ))}
        {action ? (
          <th scope="col">
            <span className="sr-only">{action}</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}

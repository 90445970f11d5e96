import { Link } from "react-router-dom";
import { EmptyState } from "../components/States";

export default function NotFoundPage() {
  return (
    <EmptyState title="Page not found">
      <p>
        This address is not part of the console. Go to the <Link to="/">dashboard</Link>.
      </p>
    </EmptyState>
  );
}

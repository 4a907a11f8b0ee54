import { Link } from "react-router";
import { PageHeader } from "../ui/components";

export default function NotFound() {
  return (
    <main id="main" className="main stack">
      <PageHeader title="Page not found" />
      <p>
        There is no page here. <Link to="/">Go to the start page</Link>.
      </p>
    </main>
  );
}

import { PageHeader } from "../../ui/components";

export default function Grants() {
  return <PageHeader title="Grants" />;
}

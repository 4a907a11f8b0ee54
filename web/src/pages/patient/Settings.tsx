import { PageHeader } from "../../ui/components";

export default function Settings() {
  return <PageHeader title="Settings" />;
}

import { PageHeader } from "../../ui/components";

export default function AccessLog() {
  return <PageHeader title="AccessLog" />;
}

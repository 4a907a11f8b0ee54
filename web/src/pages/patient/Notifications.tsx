import { PageHeader } from "../../ui/components";

export default function Notifications() {
  return <PageHeader title="Notifications" />;
}

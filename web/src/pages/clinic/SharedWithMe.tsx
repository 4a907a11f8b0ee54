import { PageHeader } from "../../ui/components";

export default function SharedWithMe() {
  return <PageHeader title="Shared with me" />;
}

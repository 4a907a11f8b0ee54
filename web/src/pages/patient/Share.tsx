import { PageHeader } from "../../ui/components";

export default function Share() {
  return <PageHeader title="Share" />;
}

/** Studies (researchers of a research organization): the organization's studies and their enrollment. */
import { Plus } from "lucide-react";
import { Link } from "react-router";
import { useApiGet } from "../../api/useApiGet";
import { credits, windowWords, type StudyView } from "../../research/studies";
import { Alert, Badge, Empty, Loading, PageHeader } from "../../ui/components";

type Listed = StudyView & { enrolled: number; withdrawn: number };

export default function Studies() {
  const { value: studies, error } = useApiGet("/research/studies", (body: { studies: Listed[] }) =>
    [...body.studies].reverse(),
  );
  return (
    <>
      <PageHeader title="Studies">
        Your organization's research studies across the consortium. Patients are matched at the node that
        holds their record and join by signing a research consent; you see counts, never who.
      </PageHeader>
      <div className="row">
        <Link className="btn" to="/clinic/studies/new">
          <Plus size={18} aria-hidden="true" /> New study
        </Link>
      </div>
      {error ? (
        <Alert tone="danger" title="Something went wrong">
          {error}
        </Alert>
      ) : null}
      {!studies && !error ? <Loading what="studies" /> : null}
      {studies && studies.length === 0 ? <Empty>Your organization has no study yet.</Empty> : null}
      <ul className="list" aria-label="Studies">
        {(studies ?? []).map((s) => (
          <li key={s.studyId} className="card stack">
            <div className="row">
              <Link to={`/clinic/studies/${s.studyId}`}>
                <strong>{s.definition.title}</strong>
              </Link>
              {s.closed ? (
                <Badge tone="neutral">closed</Badge>
              ) : s.enrollmentOpen ? (
                <Badge tone="ok">enrolling</Badge>
              ) : (
                <Badge tone="warn">not enrolling</Badge>
              )}
            </div>
            <div className="row muted">
              <span>
                {s.enrolled} of {s.definition.maxParticipants} enrolled here
                {s.withdrawn > 0 ? ` (${s.withdrawn} withdrew)` : ""}
              </span>
              <span>· {credits(s.definition.reward)} credits per contribution</span>
              <span>· {windowWords(s.definition)}</span>
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}

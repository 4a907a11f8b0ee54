/** A study's terms in plain words: who runs it, who can join, what it asks and releases, its k, pay and window. */
import { shortAccount } from "../lib/format";
import {
  categoriesWords,
  credits,
  criterionWords,
  minKWords,
  releaseWords,
  windowWords,
  type StudyView,
} from "./studies";

/** What a study asks, who runs it, what it pays, its window and its k, in plain words. */
export function StudyTerms({
  study,
  sponsor,
  titled = true,
}: {
  study: StudyView;
  sponsor: string | undefined;
  /** Whether to head the terms with the study's title (not when the page is the study's own). */
  titled?: boolean;
}) {
  const d = study.definition;
  return (
    <>
      {titled ? <h3>{d.title}</h3> : null}
      {d.description ? <p>{d.description}</p> : null}
      <dl className="facts">
        <dt>Run by</dt>
        <dd>{sponsor ?? <span className="mono">{shortAccount(study.organization)}</span>}</dd>
        <dt>Who can join</dt>
        <dd>
          <ul>
            {d.criteria.map((c, i) => (
              <li key={i}>{criterionWords(c)}</li>
            ))}
          </ul>
        </dd>
        <dt>What it asks for</dt>
        <dd>{categoriesWords(d)}</dd>
        <dt>What is released</dt>
        <dd>{releaseWords(d)}</dd>
        <dt>Privacy</dt>
        <dd>{minKWords(d)}</dd>
        <dt>Pays</dt>
        <dd>{credits(d.reward)} credits each time your data is part of a release</dd>
        <dt>Enrollment</dt>
        <dd>
          {windowWords(d)}, up to {d.maxParticipants} participants
        </dd>
      </dl>
    </>
  );
}

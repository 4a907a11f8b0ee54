/**
 * Organization names by id, from the participant registry (`GET /registry/search?kind=organization`,
 * first 100 by name), so a study shows who runs it. An id the registry does not list stays unnamed
 * (the page shows the id).
 */
import { useEffect, useState } from "react";
import { useSession } from "../auth/session";

export function useOrganizationNames(): Map<string, string> {
  const { api } = useSession();
  const [names, setNames] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    const abort = new AbortController();
    api
      .get<{ entries: { kind: string; id: string; name: string }[] }>(
        "/registry/search?kind=organization&_count=100",
        { signal: abort.signal },
      )
      .then((body) => setNames(new Map(body.entries.map((r) => [r.id.toLowerCase(), r.name]))))
      // names are a courtesy: without them the page shows ids
      .catch(() => undefined);
    return () => abort.abort();
  }, [api]);
  return names;
}

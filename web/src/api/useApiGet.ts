/**
 * A page's list or record read from the node: loaded on mount and whenever `path` changes, with
 * `reload` for after the page changed something, and one error slot for the read and the page's
 * own actions.
 */
import { useCallback, useEffect, useState } from "react";
import { useSession } from "../auth/session";
import { messageOf } from "./client";

export function useApiGet<Body, Value>(path: string, pick: (body: Body) => Value) {
  const { api } = useSession();
  const [value, setValue] = useState<Value | undefined>();
  const [error, setError] = useState<string | undefined>();
  // `pick` is a projection of the body; a new closure each render must not reload.
  const [project] = useState(() => pick);
  const reload = useCallback(
    () =>
      api
        .get<Body>(path)
        .then((body) => setValue(project(body)))
        .catch((e: unknown) => setError(messageOf(e))),
    [api, path, project],
  );
  useEffect(() => void reload(), [reload]);
  return { value, error, setError, reload };
}

/**
 * Who can be picked as a grantee: practitioners and organizations of the participant registry.
 * The search route belongs to the clinician side (`GET /registry/search?q=`); until a node serves
 * it, `searchRegistry` answers undefined and the share page takes an account or organization id.
 */
import { ApiError, type Api } from "./client";

export interface RegistryEntry {
  kind: "practitioner" | "organization";
  /** Practitioner account, or organization id (bytes32). */
  id: `0x${string}`;
  name: string;
  organization?: { id: `0x${string}`; name: string };
  role?: string;
}

export async function searchRegistry(api: Api, query: string): Promise<RegistryEntry[] | undefined> {
  try {
    const answer = await api.get<{ results?: RegistryEntry[]; entries?: RegistryEntry[] }>(
      `/registry/search?q=${encodeURIComponent(query)}`,
    );
    return answer.results ?? answer.entries ?? [];
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return undefined;
    throw e;
  }
}

import type { LocalAccount } from "viem";

export interface Session {
  token: string;
  /** fetch against the node with the session token and an optional purpose of use. */
  get(path: string, purpose?: string): Promise<Response>;
  send(
    method: string,
    path: string,
    body: unknown,
    purpose?: string,
    headers?: Record<string, string>,
  ): Promise<Response>;
}

/** Signs in to a node with SIWE (EIP-4361) as `account`, the way the CLI and the web app do. */
export async function signIn(
  url: string,
  account: LocalAccount,
  as?: Record<string, string>,
): Promise<Session> {
  const challenge = await (
    await fetch(`${url}/auth/challenge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address: account.address }),
    })
  ).json();
  const signature = await account.signMessage({ message: challenge.message });
  const res = await fetch(`${url}/auth/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: challenge.message, signature, ...(as ? { as } : {}) }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  const headers = (purpose?: string): Record<string, string> => ({
    authorization: `Bearer ${token}`,
    ...(purpose ? { "x-purpose-of-use": purpose } : {}),
  });
  return {
    token,
    get: (path, purpose) => fetch(`${url}${path}`, { headers: headers(purpose) }),
    send: (method, path, body, purpose, extra = {}) =>
      fetch(`${url}${path}`, {
        method,
        headers: { ...headers(purpose), "content-type": "application/json", ...extra },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
  };
}

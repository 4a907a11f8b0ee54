import type { LocalAccount } from "viem";
import { siweSignIn, type SignInAs } from "../../src/access/siweClient.js";

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
export async function signIn(url: string, account: LocalAccount, as?: SignInAs): Promise<Session> {
  const { token } = await siweSignIn(url, account, as ? { as } : {});
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

/**
 * The signed-in person: their signer (kept in memory only), SIWE session token and identity, and
 * the API client that uses them. When the token expires, the next request asks the person to sign
 * in again in a dialog over the page, so nothing on the page is lost, and then goes on.
 */
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { createApi, messageOf, type Api } from "../api/client";
import { Alert, Button, Dialog } from "../ui/components";
import type { Signer } from "./signer";

export interface Identity {
  account: `0x${string}`;
  kind: "patient" | "practitioner" | "node";
  organization?: `0x${string}`;
  role?: string;
  purpose: string;
}

export interface SignInAs {
  kind?: "patient" | "practitioner" | "node";
  organization?: `0x${string}`;
  role?: string;
}

interface SessionValue {
  api: Api;
  identity: Identity | undefined;
  signer: Signer | undefined;
  signIn(signer: Signer, as?: SignInAs): Promise<Identity>;
  signOut(): void;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** The signed-in identity; only for pages rendered behind a sign-in guard. */
export function useIdentity(): Identity {
  const { identity } = useSession();
  if (!identity) throw new Error("not signed in");
  return identity;
}

async function siwe(signer: Signer, as: SignInAs | undefined): Promise<string> {
  const { siweSignIn } = await import("../../../src/access/siweClient.js");
  const session = await siweSignIn(window.location.origin, signer, as ? { as } : {});
  return session.token;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const token = useRef<string | undefined>(undefined);
  const [identity, setIdentity] = useState<Identity | undefined>();
  const [signer, setSigner] = useState<Signer | undefined>();
  const signerRef = useRef<{ signer: Signer; as: SignInAs | undefined } | undefined>(undefined);
  const [prompt, setPrompt] = useState<{ resolve: () => void; reject: (e: Error) => void } | undefined>();
  const waiting = useRef<Promise<void> | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  const signOut = useCallback(() => {
    token.current = undefined;
    signerRef.current = undefined;
    setSigner(undefined);
    setIdentity(undefined);
  }, []);

  const api = useMemo(
    () =>
      createApi({
        token: () => token.current,
        reauthenticate: () => {
          waiting.current ??= new Promise<void>((resolve, reject) => setPrompt({ resolve, reject })).finally(
            () => {
              waiting.current = undefined;
              setPrompt(undefined);
            },
          );
          return waiting.current;
        },
      }),
    [],
  );

  const signIn = useCallback(
    async (next: Signer, as?: SignInAs) => {
      token.current = await siwe(next, as);
      const me = await api.get<Identity>("/auth/me");
      signerRef.current = { signer: next, as };
      setSigner(next);
      setIdentity(me);
      return me;
    },
    [api],
  );

  const again = async () => {
    const held = signerRef.current;
    if (!held || !prompt) return;
    setBusy(true);
    setError(undefined);
    try {
      token.current = await siwe(held.signer, held.as);
      prompt.resolve();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const value = useMemo(
    () => ({ api, identity, signer, signIn, signOut }),
    [api, identity, signer, signIn, signOut],
  );
  return (
    <SessionContext.Provider value={value}>
      {children}
      {prompt ? (
        <Dialog title="Your sign-in has ended">
          <p>
            For your safety, sign-ins last a limited time. Sign in again to carry on where you were: nothing
            on this page is lost.
          </p>
          {error ? (
            <Alert tone="danger" title="Could not sign in">
              {error}
            </Alert>
          ) : null}
          <div className="row">
            <Button onClick={() => void again()} busy={busy}>
              Sign in again
            </Button>
            <Button
              variant="secondary"
              onClick={() => {
                prompt.reject(new Error("Signed out."));
                signOut();
              }}
            >
              Sign out
            </Button>
          </div>
        </Dialog>
      ) : null}
    </SessionContext.Provider>
  );
}

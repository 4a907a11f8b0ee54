import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttackNode, type AttackNode } from "./attackNode.js";
import {
  approve,
  authorizeParams,
  codeFlow,
  pkce,
  postForm,
  registerApp,
  type RegisteredApp,
} from "../support/smart.js";
import { engines } from "../support/stores.js";

/**
 * Attacks on the SMART authorization server and on what its tokens reach, over HTTP on a real node
 * (SQLite and PostgreSQL): a stolen code without its verifier, a replayed code, a swapped redirect
 * URI, more scope at refresh than was granted, revoked and expired tokens, one patient's token on
 * another patient's record, an app's token on the user's own account routes.
 */
describe.each(engines)("SMART attacks (%s)", (engine) => {
  let n: AttackNode;
  let app: RegisteredApp;
  let secretApp: RegisteredApp;
  const redirectUri = "https://diary.example/callback";
  const otherRedirect = "https://diary.example/other";
  const scope = "launch/patient patient/*.rs offline_access";

  const read = (token: string, path: string) =>
    fetch(`${n.url}/fhir/${path}`, { headers: { authorization: `Bearer ${token}` } });
  /** A code approved by patient 1, with its verifier. */
  const codeFor = async (target: RegisteredApp, wanted = scope) => {
    const { verifier, challenge } = pkce();
    const params = authorizeParams(n.url, target, wanted, challenge);
    const redirect = new URL(await approve(n.url, n.p1.account, params));
    return { code: redirect.searchParams.get("code") ?? "", verifier, redirect };
  };
  const redeem = (target: RegisteredApp, code: string, verifier: string | undefined, extra = {}) =>
    postForm(n.url, "/smart/token", {
      grant_type: "authorization_code",
      code,
      redirect_uri: target.redirectUri,
      client_id: target.clientId,
      ...(verifier === undefined ? {} : { code_verifier: verifier }),
      ...extra,
    });

  beforeAll(async () => {
    n = await startAttackNode(engine, `smart-attacks-${engine}`);
    const admin = await n.as(n.admin);
    app = await registerApp(n.url, admin, {
      name: "Diary",
      confidential: false,
      redirectUris: [redirectUri, otherRedirect],
      scope: "launch/patient patient/*.rs offline_access",
    });
    secretApp = await registerApp(n.url, admin, {
      name: "Backend",
      confidential: true,
      redirectUris: ["https://backend.example/cb"],
      scope: "launch/patient patient/*.rs offline_access",
    });
  }, 180_000);

  afterAll(async () => {
    await n?.dispose();
  });

  it("only the node's operator registers apps", async () => {
    for (const who of [n.p1.account, n.doc, n.gp]) {
      const res = await (
        await n.as(who)
      ).send("POST", "/smart/clients", {
        name: "Rogue",
        confidential: false,
        redirectUris: ["https://rogue.example/cb"],
        scope: "user/*.cruds",
      });
      expect(res.status).toBe(403);
    }
  });

  it("a stolen code is worthless without its verifier, and a wrong verifier burns it", async () => {
    const missing = await codeFor(app);
    const noVerifier = await redeem(app, missing.code, undefined);
    expect(noVerifier.status).toBe(400);
    expect(noVerifier.body.access_token).toBeUndefined();

    const { code, verifier } = await codeFor(app);
    const wrong = await redeem(app, code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe("invalid_grant");
    // the wrong attempt spent the code: the rightful verifier comes too late
    const late = await redeem(app, code, verifier);
    expect(late.status).toBe(400);
    expect(late.body.access_token).toBeUndefined();
  });

  it("PKCE is required and plain is refused, before the user is even asked", async () => {
    const { challenge } = pkce();
    for (const change of [
      { code_challenge_method: "plain" },
      { code_challenge: "", code_challenge_method: "" },
    ]) {
      const params = { ...authorizeParams(n.url, app, scope, challenge), ...change };
      const page = await fetch(`${n.url}/smart/authorize?${new URLSearchParams(params)}`, {
        redirect: "manual",
      });
      expect(page.status).toBe(400);
      expect(page.headers.get("location")).toBeNull();
      await expect(approve(n.url, n.p1.account, params)).rejects.toThrow(/400/);
    }
  });

  it("a replayed code is refused and revokes the tokens its first use issued", async () => {
    const { code, verifier } = await codeFor(app);
    const first = await redeem(app, code, verifier);
    expect(first.status).toBe(200);
    const token = first.body.access_token as string;
    expect((await read(token, `Patient/${n.p1.id}`)).status).toBe(200);
    const replay = await redeem(app, code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    expect((await read(token, `Patient/${n.p1.id}`)).status).toBe(401);
    const refresh = await postForm(n.url, "/smart/token", {
      grant_type: "refresh_token",
      refresh_token: first.body.refresh_token as string,
      client_id: app.clientId,
    });
    expect(refresh.status).toBe(400);
  });

  it("redirect URIs are compared exactly: an unregistered one is never redirected to, a swapped one redeems nothing", async () => {
    const { challenge } = pkce();
    for (const evil of [
      "https://evil.example/callback",
      `${redirectUri}/x`,
      `${redirectUri}?x=1`,
      redirectUri.toUpperCase(),
    ]) {
      const params = authorizeParams(n.url, { ...app, redirectUri: evil }, scope, challenge);
      const page = await fetch(`${n.url}/smart/authorize?${new URLSearchParams(params)}`, {
        redirect: "manual",
      });
      expect(page.status).toBe(400);
      expect(page.headers.get("location")).toBeNull();
      await expect(approve(n.url, n.p1.account, params)).rejects.toThrow(/400/);
    }
    // a code issued for one registered URI cannot be redeemed naming the other
    const { code, verifier } = await codeFor(app);
    const swapped = await redeem({ ...app, redirectUri: otherRedirect }, code, verifier);
    expect(swapped.status).toBe(400);
    expect(swapped.body.access_token).toBeUndefined();
  });

  it("a code is redeemed only by the app it was issued to, and a confidential app must authenticate", async () => {
    const { code, verifier } = await codeFor(app);
    const other = await redeem(secretApp, code, verifier, { client_secret: secretApp.clientSecret });
    expect(other.status).toBe(400);
    const { verifier: v2, challenge } = pkce();
    const redirect = new URL(
      await approve(n.url, n.p1.account, authorizeParams(n.url, secretApp, scope, challenge)),
    );
    const secretCode = redirect.searchParams.get("code") ?? "";
    const noSecret = await redeem(secretApp, secretCode, v2);
    expect(noSecret.status).toBe(401);
    const wrongSecret = await redeem(secretApp, secretCode, v2, { client_secret: "smcs_wrong" });
    expect([400, 401]).toContain(wrongSecret.status);
    expect(wrongSecret.body.error).toBe("invalid_client");
  });

  it("scope cannot grow: not beyond the app's registration at approval, not beyond the grant at refresh", async () => {
    // the app was registered for patient/ scopes: user/ and system/ ones are not granted
    const token = await codeFlow(n.url, app, n.p1.account, `${scope} user/*.cruds system/*.rs`);
    expect(String(token.scope).split(" ").sort()).toEqual(scope.split(" ").sort());
    // an app registered for Observation only cannot be approved for Condition
    const narrowApp = await registerApp(n.url, await n.as(n.admin), {
      name: "Narrow",
      confidential: false,
      redirectUris: ["https://narrow.example/cb"],
      scope: "launch/patient patient/Observation.rs offline_access",
    });
    const narrow = await codeFlow(
      n.url,
      narrowApp,
      n.p1.account,
      "launch/patient patient/Observation.rs patient/Condition.rs offline_access",
    );
    expect(String(narrow.scope).split(" ")).not.toContain("patient/Condition.rs");
    expect((await read(narrow.access_token as string, `Condition/${n.p1.plain}`)).status).toBe(403);

    const refresh = (extra: Record<string, string>) =>
      postForm(n.url, "/smart/token", {
        grant_type: "refresh_token",
        refresh_token: narrow.refresh_token as string,
        client_id: narrowApp.clientId,
        ...extra,
      });
    const wider = await refresh({
      scope: "launch/patient patient/Observation.rs patient/Condition.rs offline_access",
    });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe("invalid_scope");
    const same = await refresh({});
    expect(same.status).toBe(200);
    expect((await read(same.body.access_token as string, `Condition/${n.p1.plain}`)).status).toBe(403);
    expect((await read(same.body.access_token as string, `Patient/${n.p1.id}`)).status).toBe(403);
  });

  it("a revoked token reads nothing; revoking the refresh token ends the whole grant", async () => {
    const token = await codeFlow(n.url, app, n.p1.account, scope);
    const access = token.access_token as string;
    expect((await read(access, `Patient/${n.p1.id}`)).status).toBe(200);
    const revoked = await postForm(n.url, "/smart/revoke", { token: access, client_id: app.clientId });
    expect(revoked.status).toBe(200);
    expect((await read(access, `Patient/${n.p1.id}`)).status).toBe(401);

    const second = await codeFlow(n.url, app, n.p1.account, scope);
    // another app cannot revoke it
    await postForm(n.url, "/smart/revoke", {
      token: second.access_token as string,
      client_id: secretApp.clientId,
      client_secret: secretApp.clientSecret ?? "",
    });
    expect((await read(second.access_token as string, `Patient/${n.p1.id}`)).status).toBe(200);
    await postForm(n.url, "/smart/revoke", {
      token: second.refresh_token as string,
      client_id: app.clientId,
    });
    expect((await read(second.access_token as string, `Patient/${n.p1.id}`)).status).toBe(401);
    const refresh = await postForm(n.url, "/smart/token", {
      grant_type: "refresh_token",
      refresh_token: second.refresh_token as string,
      client_id: app.clientId,
    });
    expect(refresh.status).toBe(400);
    // introspection says so, to a confidential client only
    const basic = `Basic ${Buffer.from(`${secretApp.clientId}:${secretApp.clientSecret}`).toString("base64")}`;
    const seen = await postForm(n.url, "/smart/introspect", { token: access }, { authorization: basic });
    expect(seen.body).toEqual({ active: false });
    const live = await codeFlow(n.url, app, n.p1.account, scope);
    const own = await codeFlow(n.url, secretApp, n.p1.account, scope);
    const active = await postForm(
      n.url,
      "/smart/introspect",
      { token: own.access_token as string },
      { authorization: basic },
    );
    expect(active.body.active).toBe(true);
    expect(active.body.patient).toBe(n.p1.id);
    expect(active.body.sub).toBe(n.p1.account.address);
    // another app's live token is not this app's to inspect
    const others = await postForm(
      n.url,
      "/smart/introspect",
      { token: live.access_token as string },
      { authorization: basic },
    );
    expect(others.body).toEqual({ active: false });
    const publicCaller = await postForm(n.url, "/smart/introspect", {
      token: live.access_token as string,
      client_id: app.clientId,
    });
    expect(publicCaller.status).toBe(401);
    expect(publicCaller.body.active).toBeUndefined();
  });

  it("an expired token reads nothing and an expired refresh token refreshes nothing", async () => {
    const token = await codeFlow(n.url, app, n.p1.account, scope);
    expect((await read(token.access_token as string, `Patient/${n.p1.id}`)).status).toBe(200);
    await n.node.context.store.db
      .updateTable("smart_tokens")
      .set({ expires_at: Date.now() - 1000 })
      .where("client_id", "=", app.clientId)
      .execute();
    expect((await read(token.access_token as string, `Patient/${n.p1.id}`)).status).toBe(401);
    const refresh = await postForm(n.url, "/smart/token", {
      grant_type: "refresh_token",
      refresh_token: token.refresh_token as string,
      client_id: app.clientId,
    });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe("invalid_grant");
  });

  it("one patient's token does not open another patient's record, and answers as a missing one", async () => {
    const token = await codeFlow(n.url, app, n.p1.account, scope);
    const access = token.access_token as string;
    expect(token.patient).toBe(n.p1.id);
    const other = await read(access, `Patient/${n.p2.id}`);
    const missing = await read(access, `Patient/nobody-${engine}`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe(await missing.text());
    const search = await read(access, `Patient?_id=${n.p2.id}`);
    expect(((await search.json()) as { entry?: unknown[] }).entry ?? []).toHaveLength(0);
    // and p2's token does not open p1's
    const { verifier, challenge } = pkce();
    const redirect = new URL(
      await approve(n.url, n.p2.account, authorizeParams(n.url, app, scope, challenge)),
    );
    const p2 = await redeem(app, redirect.searchParams.get("code") ?? "", verifier);
    expect(p2.body.patient).toBe(n.p2.id);
    expect((await read(p2.body.access_token as string, `Condition/${n.p1.plain}`)).status).toBe(404);
  });

  it("writes are held to the scope as well: by type at the route, per entry in a transaction", async () => {
    const writer = await registerApp(n.url, await n.as(n.admin), {
      name: "Writer",
      confidential: false,
      redirectUris: ["https://writer.example/cb"],
      scope: "launch/patient patient/Observation.cruds",
    });
    const token = await codeFlow(n.url, writer, n.p1.account, "launch/patient patient/Observation.cruds");
    const send = (method: string, path: string, body: unknown) =>
      fetch(`${n.url}/fhir${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token.access_token as string}`,
          "content-type": "application/fhir+json",
        },
        body: JSON.stringify(body),
      });
    const obs = {
      resourceType: "Observation",
      status: "final",
      code: { coding: [{ system: "http://loinc.org", code: "8480-6" }] },
      subject: { reference: `Patient/${n.p1.id}` },
    };
    const cond = {
      resourceType: "Condition",
      code: { coding: [{ system: "http://snomed.info/sct", code: "38341003" }] },
      subject: { reference: `Patient/${n.p1.id}` },
    };
    expect((await send("POST", "/Observation", obs)).status).toBe(201);
    const byType = await send("POST", "/Condition", cond);
    expect(byType.status).toBe(403);
    expect(await byType.text()).toContain("scope");
    const bundle = (resource: object) => ({
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          fullUrl: "urn:uuid:1",
          resource,
          request: { method: "POST", url: (resource as { resourceType: string }).resourceType },
        },
      ],
    });
    const entry = await send("POST", "", bundle(cond));
    expect(entry.status).toBe(403);
    expect(await entry.text()).toContain("scope");
    const log = await n.entriesAbout(n.p1.account.address);
    expect(log.some((e) => e.decision === "deny" && e.reason?.startsWith("write: scope:"))).toBe(true);
    expect((await send("POST", "", bundle(obs))).status).toBe(200);
  });

  it("an app's token reaches the FHIR API only: not the user's consents, audit or account", async () => {
    const token = await codeFlow(n.url, app, n.p1.account, scope);
    const headers = {
      authorization: `Bearer ${token.access_token as string}`,
      "content-type": "application/json",
    };
    for (const [method, path] of [
      ["GET", "/auth/me"],
      ["GET", "/consents"],
      ["GET", "/audit/me"],
      ["GET", "/patients/me/settings"],
      ["POST", "/smart/authorize/decision"],
      ["POST", `/fhir/Patient/${n.p1.id}/$erase`],
    ] as const) {
      const res = await fetch(`${n.url}${path}`, {
        method,
        headers,
        ...(method === "POST" ? { body: "{}" } : {}),
      });
      expect([401, 403], `${method} ${path}`).toContain(res.status);
    }
  });
});

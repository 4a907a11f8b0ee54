import { Client as FhirKitClient } from "fhir-kit-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttackNode, type AttackNode } from "../security/attackNode.js";
import {
  codeFlow,
  registerApp,
  startFhirclientApp,
  type FhirclientApp,
  type RegisteredApp,
} from "../support/smart.js";
import { runCli } from "../support/cli.js";
import { signIn } from "../support/session.js";
import { engines } from "../support/stores.js";

function observation(id: string, patientId: string) {
  return {
    resourceType: "Observation",
    id,
    status: "final",
    code: { coding: [{ system: "http://loinc.org", code: "8480-6" }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: "2024-03-01",
    valueQuantity: { value: 128, unit: "mm[Hg]" },
  };
}

/** The status of a failed fhirclient or fhir-kit-client request. */
async function statusOf(request: Promise<unknown>): Promise<{ status: number; body: string }> {
  try {
    await request;
  } catch (error) {
    const e = error as {
      status?: number;
      statusCode?: number;
      response?: { status: number; data?: unknown };
    };
    const status = e.statusCode ?? e.status ?? e.response?.status ?? 0;
    const body = JSON.stringify(e.response?.data ?? (error as Error).message);
    return { status, body };
  }
  return { status: 200, body: "" };
}

/**
 * Issue 14, "Must show": existing SMART clients nobody here wrote drive a real node. fhirclient
 * (its Node adapter, in a small app on 127.0.0.1) runs the standalone launch with PKCE as a patient
 * app while the test plays the user (SIWE sign-in and approval over HTTP); reads pass only where
 * both the scope and the consent allow. A practitioner app reads with fhir-kit-client and a bearer
 * token, and sees only what consent allows.
 */
describe.each(engines)("SMART standalone launch with real clients (%s)", (engine) => {
  let n: AttackNode;
  let patientApp: RegisteredApp;
  let fhirclientApp: FhirclientApp;
  const obs1 = `obs1-${engine}`;
  const obs2 = `obs2-${engine}`;

  beforeAll(async () => {
    n = await startAttackNode(engine, `smart-e2e-${engine}`);
    const doc = await signIn(n.url, n.doc);
    for (const [account, resource] of [
      [n.p1.account, observation(obs1, n.p1.id)],
      [n.p2.account, observation(obs2, n.p2.id)],
    ] as const) {
      const res = await doc.send("PUT", `/fhir/Observation/${resource.id}`, resource, undefined, {
        "x-patient-account": account.address,
      });
      expect(res.status).toBe(201);
    }
    fhirclientApp = await startFhirclientApp({
      fhirBaseUrl: `${n.url}/fhir`,
      clientId: () => patientApp.clientId,
      scope: "launch/patient patient/Observation.rs patient/Patient.r offline_access",
    });
    patientApp = await registerApp(n.url, await n.as(n.admin), {
      name: "Blood pressure diary",
      confidential: false,
      redirectUris: [fhirclientApp.redirectUri],
      scope: "launch/patient patient/*.rs offline_access online_access",
    });
  }, 180_000);

  afterAll(async () => {
    await fhirclientApp?.close();
    await n?.dispose();
  });

  it("launches a patient app with fhirclient and PKCE; scope and consent both narrow what it reads", async () => {
    // the app starts the launch: discovery, PKCE S256, redirect to the authorization endpoint
    const launch = await fetch(fhirclientApp.launchUrl, { redirect: "manual" });
    expect(launch.status).toBe(302);
    const authorizeUrl = new URL(launch.headers.get("location")!);
    expect(authorizeUrl.origin + authorizeUrl.pathname).toBe(`${n.url}/smart/authorize`);
    expect(authorizeUrl.searchParams.get("code_challenge_method")).toBe("S256");
    // the user's browser opens the approval page
    const page = await fetch(authorizeUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Blood pressure diary");
    // the user signs in with SIWE and approves over the API the page calls
    const session = await signIn(n.url, n.p1.account);
    const decision = await session.send("POST", "/smart/authorize/decision", {
      params: Object.fromEntries(authorizeUrl.searchParams),
      approve: true,
    });
    expect(decision.status).toBe(200);
    const { redirect } = (await decision.json()) as { redirect: string };
    expect(redirect.startsWith(fhirclientApp.redirectUri)).toBe(true);
    // the browser lands on the app, which exchanges the code (with its verifier) for a token
    const ready = fhirclientApp.nextClient();
    const landed = await fetch(redirect);
    expect(landed.status).toBe(200);
    const client = await ready;
    expect(client.getPatientId()).toBe(n.p1.id);
    expect(client.state.tokenResponse?.scope?.split(" ").sort()).toEqual(
      ["launch/patient", "offline_access", "patient/Observation.rs", "patient/Patient.r"].sort(),
    );
    expect(client.state.tokenResponse?.refresh_token).toBeTruthy();

    // allowed by scope and by consent (the patient's own record)
    const own = (await client.request(`Observation/${obs1}`)) as { id: string };
    expect(own.id).toBe(obs1);
    const patient = (await client.patient.read()) as { id: string };
    expect(patient.id).toBe(n.p1.id);
    const found = (await client.request(`Observation?patient=${n.p1.id}`)) as {
      entry?: Array<{ resource: { id: string } }>;
    };
    expect(found.entry?.map((e) => e.resource.id)).toEqual([obs1]);

    // $everything holds only what the scope names: the Conditions stay out
    const everything = (await client.request(`Patient/${n.p1.id}/$everything`)) as {
      entry?: Array<{ resource: { resourceType: string; id: string } }>;
    };
    expect(everything.entry?.map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort()).toEqual(
      [`Observation/${obs1}`, `Patient/${n.p1.id}`].sort(),
    );

    // refused by the scope: the patient may read their Condition, the token may not
    const byScope = await statusOf(client.request(`Condition/${n.p1.plain}`));
    expect(byScope.status).toBe(403);
    expect(byScope.body).toContain("scope");
    // refused by consent: another patient's Observation answers as a missing one
    const byConsent = await statusOf(client.request(`Observation/${obs2}`));
    expect(byConsent.status).toBe(404);
    const missing = await statusOf(client.request(`Observation/no-such-${engine}`));
    expect(missing.status).toBe(404);
    // the same answer but for the URL fhirclient quotes in its error
    expect(byConsent.body.replace(/URL: \S+/, "")).toBe(missing.body.replace(/URL: \S+/, ""));

    // both refusals are audited as denials: the scope's in the node's log, consent's in p2's
    const { audit } = n.node.services;
    await audit.flush();
    const denials = (await audit.entries({ limit: 1000 })).map((e) => e.entry);
    expect(
      denials.some((e) => e.decision === "deny" && e.reason?.includes("scope grants no 'r' on Condition")),
    ).toBe(true);
    const p2Log = await n.entriesAbout(n.p2.account.address);
    expect(
      p2Log.some((e) => e.decision === "deny" && e.resources?.[0]?.startsWith(`Observation/${obs2}`)),
    ).toBe(true);
  }, 60_000);

  it("a practitioner app reads with fhir-kit-client and a bearer token only what consent allows", async () => {
    // the operator registers the app with the CLI, on the node's data directory
    const { config } = n.node.context;
    const registered = await runCli(
      [
        "--data-dir",
        config.dataDir,
        "smart",
        "register",
        "--name",
        "Ward round",
        "--confidential",
        "--redirect-uri",
        "https://ward.example/callback",
        "--scope",
        "user/Patient.rs user/Condition.rs",
      ],
      config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {},
    );
    expect(registered.code, registered.stderr).toBe(0);
    const { clientId, clientSecret } = JSON.parse(registered.stdout) as {
      clientId: string;
      clientSecret: string;
    };
    expect(clientSecret).toMatch(/^smcs_/);
    const practitionerApp: RegisteredApp = {
      clientId,
      clientSecret,
      redirectUri: "https://ward.example/callback",
    };
    const docToken = await codeFlow(n.url, practitionerApp, n.doc, "user/Patient.rs user/Condition.rs");
    expect(docToken.patient).toBeUndefined();
    const doc = new FhirKitClient({ baseUrl: `${n.url}/fhir`, bearerToken: docToken.access_token as string });
    // the hospital authored the record: its physician finds the patient by name and birth date and
    // reads the ordinary condition
    const search = (await doc.search({
      resourceType: "Patient",
      searchParams: { name: "one", birthdate: "1961-04-12" },
    })) as {
      entry?: Array<{ resource: { id: string } }>;
    };
    expect(search.entry?.map((e) => e.resource.id)).toEqual([n.p1.id]);
    const plain = (await doc.read({ resourceType: "Condition", id: n.p1.plain })) as unknown as {
      id: string;
    };
    expect(plain.id).toBe(n.p1.plain);
    // consent: a sensitive condition needs the patient's grant, scope or not
    expect((await statusOf(doc.read({ resourceType: "Condition", id: n.p1.hiv }))).status).toBe(404);
    // scope: no Observation in the token, whatever consent allows
    expect((await statusOf(doc.read({ resourceType: "Observation", id: obs1 }))).status).toBe(403);

    // a physician of another organization with the same app and scope finds nobody: no grant
    const gpToken = await codeFlow(n.url, practitionerApp, n.gp, "user/Patient.rs user/Condition.rs");
    const gp = new FhirKitClient({ baseUrl: `${n.url}/fhir`, bearerToken: gpToken.access_token as string });
    const none = (await gp.search({
      resourceType: "Patient",
      searchParams: { name: "one", birthdate: "1961-04-12" },
    })) as {
      entry?: unknown[];
    };
    expect(none.entry ?? []).toHaveLength(0);
    expect((await statusOf(gp.read({ resourceType: "Condition", id: n.p1.plain }))).status).toBe(404);
  }, 60_000);
});

import type { Address, LocalAccount } from "viem";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import type { Category } from "../../src/model/vocabulary.js";

/**
 * The patient signs, as the web app or the CLI would, a grant letting a practitioner read the
 * given categories for treatment until 2030, and submits it to a node, waiting until it is mined
 * and applied.
 * @param nodeUrl - the node that relays it
 * @param patient - the patient's key
 * @param practitioner - the grantee's account
 * @param categories - what the practitioner may read (sensitive ones named one by one)
 * @returns the node's answer (201 when accepted)
 */
export async function grantForTreatment(
  nodeUrl: string,
  patient: LocalAccount,
  practitioner: Address,
  categories: readonly Category[],
): Promise<Response> {
  const domain = (await (await fetch(`${nodeUrl}/consents/domain`)).json()) as Parameters<
    typeof signGrant
  >[1];
  const message = buildGrantMessage({
    patient: patient.address,
    grantee: { kind: "practitioner", account: practitioner },
    categories,
    purposes: ["TREAT"],
    actions: ["read"],
    notBefore: Math.floor(Date.now() / 1000) - 60,
    notAfter: new Date("2030-01-01T00:00:00Z"),
  });
  return fetch(`${nodeUrl}/consents?wait=true`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
  });
}

/** {@link grantForTreatment} of the patient's labs. */
export function grantLabsForTreatment(
  nodeUrl: string,
  patient: LocalAccount,
  practitioner: Address,
): Promise<Response> {
  return grantForTreatment(nodeUrl, patient, practitioner, ["labs"]);
}

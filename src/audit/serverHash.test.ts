import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { leafHash, nodeHash } from "./merkleHash.js";
import { commitmentOf } from "./auditEntry.js";
import { fastNodeHash, serverCommitment, textLeafHash } from "./serverHash.js";

describe("serverHash", () => {
  it("gives the same bytes as the browser-safe hashes", () => {
    for (const text of ["", "a", '{"v":1}', "é ✓ 𝄞", "x".repeat(1000)]) {
      expect(Buffer.from(textLeafHash(text)).toString("hex")).toBe(
        Buffer.from(leafHash(new TextEncoder().encode(text))).toString("hex"),
      );
    }
    for (let i = 0; i < 20; i++) {
      const l = randomBytes(32);
      const r = randomBytes(32);
      expect(Buffer.from(fastNodeHash(l, r)).equals(Buffer.from(nodeHash(l, r)))).toBe(true);
    }
    for (const text of ['{"categories":["labs"]}', '{"reason":"é ✓ 𝄞"}']) {
      const salt = randomBytes(16).toString("hex");
      expect(serverCommitment(salt, text)).toBe(commitmentOf(salt, text));
      expect(serverCommitment(salt, text)).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { leafHash, nodeHash } from "./merkleHash.js";
import { commitmentOf } from "./auditEntry.js";
import { fastNodeHash, prefixedLeafHash, serverCommitment, textLeafHash } from "./serverHash.js";

describe("serverHash", () => {
  it("gives the same bytes as the browser-safe hashes", () => {
    for (const text of ["", "a", '{"v":1}', "é ✓ 𝄞", "x".repeat(1000)]) {
      expect(Buffer.from(textLeafHash(text)).toString("hex")).toBe(
        Buffer.from(leafHash(new TextEncoder().encode(text))).toString("hex"),
      );
      // As the writing thread hashes it: a slice of a longer string, NUL included.
      const packed = `\0{"v":0}\0${text}\0{}`;
      const from = packed.indexOf("\0", 1);
      expect(prefixedLeafHash(packed.slice(from, from + 1 + text.length)).equals(textLeafHash(text))).toBe(
        true,
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

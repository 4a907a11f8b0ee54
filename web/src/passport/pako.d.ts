/** The part of `pako` (2.x, which ships no types) the browser verifier uses. */
declare module "pako" {
  export class Inflate {
    constructor(options?: { raw?: boolean; chunkSize?: number });
    push(data: Uint8Array, final?: boolean): boolean;
    onData: (chunk: Uint8Array) => void;
    err: number;
    msg: string;
    ended: boolean;
  }
}

/** Types of the `base45` package (RFC 9285), which ships none. */
declare module "base45" {
  const base45: {
    encode(bytes: Uint8Array | string): string;
    decode(text: string): Buffer;
  };
  export default base45;
}

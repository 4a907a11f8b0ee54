/**
 * QR codes of health cards: reading them from PNG images (jsQR over pngjs) and drawing them as
 * PNG or SVG (qrcode). SMART Health Cards use two segments: byte mode `shc:/`, numeric mode digits.
 * https://spec.smarthealth.cards/#encoding-qrs
 */
import jsQRModule from "jsqr";
import { PNG } from "pngjs";
import QRCode from "qrcode";
import { PassportFormatError } from "./passportReport.js";

/**
 * Reads the text of the QR code in a PNG image.
 * @param png - PNG file bytes
 * @returns the QR's text
 */
export function decodeQrPng(png: Uint8Array): string {
  let image: PNG;
  try {
    image = PNG.sync.read(Buffer.from(png));
  } catch (cause) {
    throw new PassportFormatError("malformed_payload", "QR image: not a readable PNG", { cause });
  }
  // jsqr is a webpack UMD bundle: under node's CommonJS interop its function is the module itself.
  const jsQR = jsQRModule as unknown as typeof jsQRModule.default;
  const code = jsQR(
    new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length),
    image.width,
    image.height,
  );
  if (code === null) throw new PassportFormatError("malformed_payload", "QR image: no QR code found");
  return code.data;
}

function segments(payload: string): QRCode.QRCodeSegment[] {
  const match = /^(shc:\/(?:\d+\/\d+\/)?)(\d+)$/.exec(payload);
  if (match === null) return [{ data: Buffer.from(payload), mode: "byte" }];
  return [
    { data: Buffer.from(match[1] ?? ""), mode: "byte" },
    { data: match[2] ?? "", mode: "numeric" },
  ];
}

/**
 * Draws a `shc:/` (or any) payload as a PNG QR code, error correction L as the spec asks.
 * @param payload - one QR's text
 */
export async function qrPng(payload: string): Promise<Buffer> {
  return QRCode.toBuffer(segments(payload), { errorCorrectionLevel: "L", type: "png", margin: 4, scale: 4 });
}

/** The same QR code as an SVG document. */
export async function qrSvg(payload: string): Promise<string> {
  return QRCode.toString(segments(payload), { errorCorrectionLevel: "L", type: "svg", margin: 4 });
}

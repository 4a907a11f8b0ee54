/**
 * Reads QR codes from a camera frame or a picture: the browser's BarcodeDetector where it has one
 * (Chrome on Android, macOS, ChromeOS; Safari), else jsQR (a maintained pure-JavaScript decoder,
 * loaded only when needed) over the pixels drawn on a canvas, so every browser can scan.
 */
export interface QrReader {
  detect(source: HTMLVideoElement | ImageBitmap): Promise<string[]>;
}

interface Detector {
  detect(source: CanvasImageSource | ImageBitmap): Promise<Array<{ rawValue: string }>>;
}

/** The best QR reader this browser offers. */
export async function qrReader(): Promise<QrReader> {
  const ctor = (window as unknown as { BarcodeDetector?: new (o: object) => Detector }).BarcodeDetector;
  if (ctor) {
    const detector = new ctor({ formats: ["qr_code"] });
    return { detect: async (source) => (await detector.detect(source)).map((c) => c.rawValue) };
  }
  const { default: jsQR } = await import("jsqr");
  const canvas = document.createElement("canvas");
  return {
    detect: async (source) => {
      const width = source instanceof HTMLVideoElement ? source.videoWidth : source.width;
      const height = source instanceof HTMLVideoElement ? source.videoHeight : source.height;
      if (width === 0 || height === 0) return [];
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      if (!context) return [];
      context.drawImage(source, 0, 0);
      const code = jsQR(context.getImageData(0, 0, width, height).data, width, height);
      return code ? [code.data] : [];
    },
  };
}

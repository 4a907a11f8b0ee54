/**
 * A card's QR codes shown as large as the screen allows, black on white, one code at a time for
 * chunked cards ("code 1 of 3"), so a verifier's camera reads them at arm's length. Escape or the
 * button closes it; focus returns where it was.
 */
import { ChevronLeft, ChevronRight, X } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Button } from "../../ui/components";

/** An SVG document as an image URL (the page's CSP allows data: images, never injected markup). */
export const svgUrl = (svg: string): string => `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;

export function QrFullScreen(props: { svgs: string[]; onClose: () => void }) {
  const [index, setIndex] = useState(0);
  const ref = useRef<HTMLDivElement>(null);
  const { onClose, svgs } = props;
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLElement>("button")?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
      if (e.key === "ArrowRight") setIndex((i) => Math.min(i + 1, svgs.length - 1));
      if (e.key === "ArrowLeft") setIndex((i) => Math.max(i - 1, 0));
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      before?.focus();
    };
  }, [onClose, svgs.length]);
  const svg = svgs[index] ?? "";
  const label =
    svgs.length > 1 ? `Health card QR code ${index + 1} of ${svgs.length}` : "Health card QR code";
  return (
    <div className="qr-full" role="dialog" aria-modal="true" aria-label={label} ref={ref}>
      <div className="row qr-full-bar">
        <Button variant="secondary" onClick={onClose}>
          <X size={18} aria-hidden="true" /> Close
        </Button>
        {svgs.length > 1 ? (
          <>
            <Button
              variant="secondary"
              disabled={index === 0}
              onClick={() => setIndex(index - 1)}
              label="Previous code"
            >
              <ChevronLeft size={18} aria-hidden="true" />
            </Button>
            <strong aria-live="polite">
              Code {index + 1} of {svgs.length}
            </strong>
            <Button
              variant="secondary"
              disabled={index === svgs.length - 1}
              onClick={() => setIndex(index + 1)}
              label="Next code"
            >
              <ChevronRight size={18} aria-hidden="true" />
            </Button>
          </>
        ) : null}
      </div>
      <img className="qr-full-image" src={svgUrl(svg)} alt={label} />
      <p className="qr-full-hint">Turn your screen brightness up and hold the code steady for the scanner.</p>
    </div>
  );
}

/**
 * My passport: the patient's vaccinations and test results that can go on a SMART Health Card,
 * issuing a card at the patient's request, its QR code full screen (chunked cards as several
 * codes), the `.smart-health-card` file to download, and the cards issued before with their state.
 * The node keeps no copy of a card's content: it is shown and downloaded right after issuing.
 */
import { Ban, Download, Maximize2, QrCode } from "lucide-react";
import { useState } from "react";
import { messageOf } from "../../api/client";
import { useApiGet } from "../../api/useApiGet";
import { useSession } from "../../auth/session";
import { formatDate, formatDateTime } from "../../lib/format";
import { Alert, Badge, Button, Card, Empty, Loading, PageHeader } from "../../ui/components";
import { QrFullScreen, svgUrl } from "../passport/QrFullScreen";

type CardType = "immunization" | "laboratory";

interface EligibleRecord {
  resourceType: string;
  id: string;
  label: string;
  date: string | null;
  value: string | null;
}

interface CardSummary {
  cardId: string;
  type: CardType;
  kid: string;
  issuedAt: string;
  revokedAt: string | null;
}

interface IssuedCard extends CardSummary {
  jws: string;
  qrPayloads: string[];
  file: string;
  qrSvg: string[];
}

const TYPE_WORDS: Record<CardType, { title: string; card: string; none: string }> = {
  immunization: {
    title: "Vaccinations",
    card: "vaccination card",
    none: "Your record holds no vaccination to put on a card.",
  },
  laboratory: {
    title: "Test results",
    card: "test-result card",
    none: "Your record holds no laboratory result to put on a card.",
  },
};

/** Offers the card as a `.smart-health-card` file (the spec's download form). */
function download(card: IssuedCard): void {
  const url = URL.createObjectURL(new Blob([card.file], { type: "application/smart-health-card" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `${card.type}-${card.issuedAt.slice(0, 10)}.smart-health-card`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export default function Passport() {
  const { api } = useSession();
  const { value: eligible, error: eligibleError } = useApiGet(
    "/passport/eligible",
    (body: Record<CardType, EligibleRecord[]>) => body,
  );
  const {
    value: cards,
    error,
    setError,
    reload: loadCards,
  } = useApiGet("/passport/cards", (body: { cards: CardSummary[] }) => body.cards);
  const [busy, setBusy] = useState<string | undefined>();
  const [issued, setIssued] = useState<IssuedCard | undefined>();
  const [fullScreen, setFullScreen] = useState(false);

  const issue = async (type: CardType) => {
    setError(undefined);
    setBusy(type);
    try {
      const card = await api.send<IssuedCard>("POST", "/passport/cards", { type, images: true });
      setIssued(card);
      await loadCards();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  const revoke = async (card: CardSummary) => {
    setError(undefined);
    setBusy(card.cardId);
    try {
      await api.send("POST", `/passport/cards/${card.cardId}/revoke`);
      await loadCards();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <PageHeader title="My passport">
        A SMART Health Card proves a vaccination or a test result to anyone who scans it, offline. It holds
        your name, your birth date and the facts below, nothing else from your record.
      </PageHeader>
      {error || eligibleError ? (
        <Alert tone="danger" title="That did not work">
          {error ?? eligibleError}
        </Alert>
      ) : null}
      {!eligible && !eligibleError ? <Loading what="your vaccinations and test results" /> : null}

      {issued ? (
        <Card title={`Your new ${TYPE_WORDS[issued.type].card}`}>
          <p>
            Issued {formatDateTime(issued.issuedAt)}.{" "}
            {issued.qrSvg.length > 1
              ? `It is large, so it is split into ${issued.qrSvg.length} QR codes; a scanner reads them all.`
              : null}{" "}
            This node keeps no copy of the card: download it now to keep it.
          </p>
          <div className="qr-thumbs">
            {issued.qrSvg.map((svg, i) => (
              <img
                key={i}
                className="qr-thumb"
                src={svgUrl(svg)}
                alt={issued.qrSvg.length > 1 ? `QR code ${i + 1} of ${issued.qrSvg.length}` : "QR code"}
              />
            ))}
          </div>
          <div className="row">
            <Button onClick={() => setFullScreen(true)}>
              <Maximize2 size={18} aria-hidden="true" /> Show full screen
            </Button>
            <Button variant="secondary" onClick={() => download(issued)}>
              <Download size={18} aria-hidden="true" /> Download .smart-health-card
            </Button>
          </div>
        </Card>
      ) : null}
      {issued && fullScreen ? (
        <QrFullScreen svgs={issued.qrSvg} onClose={() => setFullScreen(false)} />
      ) : null}

      {eligible ? (
        <div className="grid">
          {(["immunization", "laboratory"] as const).map((type) => (
            <Card key={type} title={TYPE_WORDS[type].title}>
              {eligible[type].length === 0 ? (
                <p className="muted">{TYPE_WORDS[type].none}</p>
              ) : (
                <ul
                  className="list eligible"
                  tabIndex={0}
                  aria-label={`${TYPE_WORDS[type].title} on the card`}
                >
                  {eligible[type].map((record) => (
                    <li key={record.id}>
                      <strong>{record.label}</strong>
                      {record.value ? <>: {record.value}</> : null}
                      <span className="muted"> · {record.date ? formatDate(record.date) : "no date"}</span>
                    </li>
                  ))}
                </ul>
              )}
              <p>
                <Button
                  disabled={eligible[type].length === 0}
                  busy={busy === type}
                  onClick={() => void issue(type)}
                >
                  <QrCode size={18} aria-hidden="true" /> Issue a {TYPE_WORDS[type].card}
                </Button>
              </p>
            </Card>
          ))}
        </div>
      ) : null}

      <Card title="Cards issued before">
        {!cards ? null : cards.length === 0 ? (
          <Empty>No card has been issued for you yet.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Card</th>
                  <th scope="col">Issued</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="visually-hidden">Action</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {[...cards].reverse().map((card) => (
                  <tr key={card.cardId}>
                    <td>{TYPE_WORDS[card.type].card}</td>
                    <td>{formatDateTime(card.issuedAt)}</td>
                    <td>
                      {card.revokedAt ? (
                        <Badge tone="danger">revoked {formatDateTime(card.revokedAt)}</Badge>
                      ) : (
                        <Badge tone="ok">valid</Badge>
                      )}
                    </td>
                    <td>
                      {card.revokedAt ? null : (
                        <Button
                          small
                          variant="secondary"
                          busy={busy === card.cardId}
                          onClick={() => void revoke(card)}
                          label={`Revoke the ${TYPE_WORDS[card.type].card} issued ${formatDateTime(card.issuedAt)}`}
                        >
                          <Ban size={16} aria-hidden="true" /> Revoke
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

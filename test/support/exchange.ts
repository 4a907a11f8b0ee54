import { request as httpRequest, type IncomingHttpHeaders } from "node:http";

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP exchange over node:http, as an attacker's client would send it: any method, any length
 * of URL or header, and a server that answers before reading the whole body is fine.
 */
export function exchange(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Answer> {
  const sized =
    body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method, headers: sized, timeout: 15_000, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    // the server may answer (413, 431) and close before it has read everything we send
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (!answered && error.code !== "EPIPE") reject(error);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer to ${method} ${url.slice(0, 80)}`)));
    if (body !== undefined && Buffer.byteLength(body) > 64 * 1024) {
      // announce a large body first: a server that refuses it by its length answers before reading
      req.flushHeaders();
      setTimeout(() => req.end(body), 100);
    } else req.end(body);
  });
}

/** Reads Server-Sent Events frames from a fetch response. */
export function sseReader(res: Response) {
  const frames: Array<{
    id?: string | undefined;
    event?: string | undefined;
    data: Record<string, unknown>;
    at: number;
  }> = [];
  let done = false;
  const waiters: Array<() => void> = [];
  void (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done: end } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (end) break;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields = Object.fromEntries(
          block
            .split("\n")
            .filter((l) => l && !l.startsWith(":"))
            .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trimStart()]),
        );
        if (fields.data)
          frames.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data), at: Date.now() });
        waiters.splice(0).forEach((w) => w());
      }
    }
    done = true;
    waiters.splice(0).forEach((w) => w());
  })();
  const next = async (index: number, timeoutMs = 5000) => {
    const until = Date.now() + timeoutMs;
    while (frames.length <= index && !done && Date.now() < until)
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    return frames[index];
  };
  return { frames, next, isDone: () => done };
}

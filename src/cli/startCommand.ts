import type { Command } from "commander";
import { loadConfig } from "../config/config.js";
import { startNode, type RunningNode } from "../node/startNode.js";

/** `carechain start`: the embedded ledger (unless CHAIN_RPC_URL), the database and the API on one port. */
export function registerStartCommand(program: Command): void {
  program
    .command("start")
    .description("start this organization's node (embedded ledger + database + API + web UI)")
    .option("-p, --port <port>", "HTTP port (env PORT, default 8080)")
    .option("--host <host>", "listen address (env HOST, default 127.0.0.1)")
    .option("--demo", "seed demo data on first run (env CARECHAIN_DEMO)")
    .action(async (opts: { port?: string; host?: string; demo?: boolean }) => {
      const global = program.opts<{ dataDir?: string }>();
      const config = loadConfig(process.env, {
        port: opts.port,
        host: opts.host,
        dataDir: global.dataDir,
        demo: opts.demo,
      });
      // Signals are handled from the first moment: while starting (deploying, registering), start-up
      // stops at its next step; once running (demo seeding included), the node stops in order.
      const starting = new AbortController();
      let node: RunningNode | undefined;
      let stopped: () => void = () => {};
      const done = new Promise<void>((resolve) => (stopped = resolve));
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        if (node) void node.stop().then(stopped);
        else starting.abort();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      try {
        node = await startNode(config, { signal: starting.signal });
      } catch (error) {
        if (starting.signal.aborted) return;
        throw error;
      }
      if (starting.signal.aborted) {
        await node.stop();
        return;
      }
      process.stdout.write(`carechain node listening on ${node.url}  (health: ${node.url}/health)\n`);
      await done;
    });
}

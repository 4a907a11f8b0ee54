import type { Command } from "commander";
import { loadConfig } from "../config/config.js";
import { startNode } from "../node/startNode.js";

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
      const node = await startNode(config);
      process.stdout.write(`carechain node listening on ${node.url}  (health: ${node.url}/health)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void node.stop().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}

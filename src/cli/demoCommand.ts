import type { Command } from "commander";
import { startDemo } from "../federation/demo.js";

/** `carechain demo`: five node processes (hospital, GP, pharmacy, lab, research) on one ledger, seeded. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run a demo consortium of five nodes on one embedded ledger, with synthetic patients")
    .action(async () => {
      const global = program.opts<{ dataDir?: string }>();
      const dataDir = global.dataDir ?? "./demo-data";
      const demo = await startDemo(dataDir, (line) => process.stdout.write(`${line}\n`));
      process.stdout.write(`${demo.summary}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          process.stdout.write("stopping the demo consortium\n");
          void demo.stop().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}

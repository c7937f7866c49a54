// One vitest project per service in services.yaml (`npx vitest --project blog`), plus the tool's own tests.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { loadServices } from "./src/config/load.ts";
import { serviceProject, toolProject } from "./src/vitest/projects.ts";
import { configPath, reportsDir } from "./src/vitest/paths.ts";
import JUnitReporter from "./src/vitest/junitReporter.ts";

const services = existsSync(configPath()) ? loadServices(configPath()) : [];
const reports = reportsDir();
// Each run's Allure results stand alone; history across runs is kept by the report step (npm run report).
rmSync(join(reports, "allure-results"), { recursive: true, force: true });

export default defineConfig({
  test: {
    projects: [toolProject(), ...services.map(serviceProject)],
    reporters: [
      "default",
      new JUnitReporter({ outputFile: join(reports, "junit.xml") }),
      ["allure-vitest/reporter", { resultsDir: join(reports, "allure-results") }],
    ],
    // Restores are heavy (a server each): one file at a time keeps a 2-core runner within its memory and disk.
    fileParallelism: false,
    pool: "forks",
  },
});

// The one generic suite: every service project runs this file; services.yaml and the manifest generate the tests.
import { inject } from "vitest";
import { defineRestoreSuite } from "../src/report/suite.ts";

defineRestoreSuite(inject("service"));

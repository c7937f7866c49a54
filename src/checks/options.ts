// The check tuning a service's services.yaml asks for (verify.chunkMinSize, chunkRows, extendedCheck).
import type { Service } from "../config/schema.ts";
import type { CheckOptions } from "./types.ts";

export function checkOptions(service: Service): CheckOptions {
  return { chunkMinBytes: service.verify.chunkMinSize, chunkRows: service.verify.chunkRows, extendedCheck: service.verify.extendedCheck };
}

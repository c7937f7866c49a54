// A binlog position: file, offset and GTID set, as the manifest, backup tools and replay name a point in a server's history.
import { z } from "zod";

export const PositionSchema = z.strictObject({ file: z.string(), position: z.number().int().nonnegative(), gtid: z.string() });
export type Position = z.infer<typeof PositionSchema>;

// The MySQL seed checkpoints as the MariaDB one does: without it, recovery at the restored server's first start
// rebuilds freshly written pages from redo, and damage to a data page of the clone is healed instead of tested.
export { default } from "../seed-small/02-checkpoint.ts";

// Identifier quoting: the only place a name from a server or a config file becomes SQL text.

/** A MySQL/MariaDB identifier in backticks, with embedded backticks doubled. */
export function quoteIdent(name: string): string {
  if (name.includes("\0")) throw new Error(`identifier contains a NUL byte: ${JSON.stringify(name)}`);
  return "`" + name.replace(/`/g, "``") + "`";
}

/** `db`.`table` */
export function qualifiedName(database: string, table: string): string {
  return `${quoteIdent(database)}.${quoteIdent(table)}`;
}

/** A table by its database and name, as the command line and the binlog search name it. */
export interface TableName {
  database: string;
  table: string;
}

/** `db.t`, as messages and the command line name a table. */
export function tableLabel(t: TableName): string {
  return `${t.database}.${t.table}`;
}
